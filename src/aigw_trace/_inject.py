"""Putting the call's trace context into one HTTP attempt's headers, without overriding the caller's."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from opentelemetry import propagate

from ._call import Call

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"


def inject_headers(
    headers: Any, call: Call, session_headers: tuple[str, ...] = (), client: Any = None, options: Any = None
) -> None:
    """Add the call's trace context to one attempt's headers through the global propagators.

    A header the caller set wins: theirs is kept, and a caller's ``traceparent`` also keeps our ``tracestate`` out,
    since the two only make sense together. What the caller set is read from the two small dicts it can come from,
    the client's ``default_headers`` and the call's ``extra_headers`` (``Omit``-ted names included: an omitted
    ``traceparent`` is a request for none), rather than from ``headers``, where every lookup scans and decodes them
    all; only a client that does not keep its default headers where the Stainless template does is checked there.
    """
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context=call.inject_context)
    if call.session_id is not None:
        for name in session_headers:
            carrier[name] = call.session_id
    custom = getattr(client, "_custom_headers", None)
    taken: Container[str]
    if custom.__class__ is not dict and not isinstance(custom, Mapping):
        taken = headers
    else:
        extra = getattr(options, "headers", None)
        if not custom and not extra:
            for key, value in carrier.items():
                headers[key] = value
            return
        taken = {str(name).lower() for name in (*custom, *(extra or ()))}
    if _TRACEPARENT in carrier and _TRACEPARENT in taken:
        carrier.pop(_TRACESTATE, None)
    for key, value in carrier.items():
        if key.lower() not in taken:  # a propagator may name its header in capitals
            headers[key] = value
