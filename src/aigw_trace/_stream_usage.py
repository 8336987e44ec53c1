"""The ``stream_usage`` option's request side: asking a streamed request for its token usage on the caller's behalf.

The item the answer adds is folded and kept from the app by the stream observer (``_streams._without_usage_chunk``),
so the app sees what it would see without the option.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ask_for_stream_usage"]

_RAW_RESPONSE_HEADER = "x-stainless-raw-response"
"""Set by ``with_raw_response``/``with_streaming_response``: the caller may read the raw bytes, which cannot be
filtered, so no usage chunk is asked for on their behalf."""


def ask_for_stream_usage(options: Any, path: tuple[str, ...]) -> bool:
    """Ask this streamed request for its usage (``path``: ``("stream_options", "include_usage")``) unless the caller
    decided either way or reads the raw response; the request's body is replaced, never the caller's dict changed.
    Returns whether it asked."""
    headers = getattr(options, "headers", None)
    if isinstance(headers, Mapping) and any(str(k).lower() == _RAW_RESPONSE_HEADER for k in headers):
        return False
    body = options.json_data
    if not isinstance(body, Mapping) or len(path) != 2:
        return False
    outer, key = path
    extra = getattr(options, "extra_json", None)
    if isinstance(extra, Mapping) and outer in extra:
        return False  # set through extra_body, which the SDK sends over the body
    inner = body.get(outer)
    if inner is None:
        inner = {}
    elif not isinstance(inner, Mapping) or key in inner:
        return False  # the caller's own choice (or an odd value): left as it is
    options.json_data = {**body, outer: {**inner, key: True}}
    return True
