"""Which anthropic endpoint a call is: by the name the SDK method gives its call (1.x and later), else by path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._spec import Endpoint, Specifics
from ._messages import COUNT_TOKENS, MESSAGES

_PREFIX = "anthropic."

_BY_SPAN_NAME: dict[str, Endpoint] = {
    "anthropic.messages.create": MESSAGES,
    "anthropic.messages.count_tokens": COUNT_TOKENS,
}
"""SDK span name → endpoint. Other names are added on first use: the SDK's code fixes the set (a few hundred), so it
stays bounded, and no id ever reaches a name."""

_MESSAGES_PATHS = frozenset({"/v1/messages", "/v1/messages?beta=true"})

_BY_METHOD = {m: Endpoint(operation=f"http.{m}") for m in ("get", "post", "put", "patch", "delete")}
_OTHER_METHOD = Endpoint(operation="http.request")


def _by_span_name(name: str) -> Endpoint:
    endpoint = _BY_SPAN_NAME.get(name)
    if endpoint is None:
        endpoint = _BY_SPAN_NAME[name] = Endpoint(operation=name.removeprefix(_PREFIX))
    return endpoint


def _method_attributes(endpoint: Endpoint, options: Any) -> Endpoint | Specifics:
    """The SDK method's own attributes for its span (a batch's or a file's id, a batch's request count)."""
    extra = getattr(options, "span_attributes", None)
    if callable(extra):
        extra = extra(options.json_data)
    if not isinstance(extra, Mapping) or not extra:
        return endpoint
    kept = {k: v for k, v in extra.items() if isinstance(k, str) and isinstance(v, (str, bool, int, float))}
    return Specifics(endpoint, None, kept) if kept else endpoint


def route(options: Any) -> Endpoint | Specifics:
    name = getattr(options, "span_name", None)
    if name is not None:
        endpoint = _by_span_name(name)
        if endpoint is MESSAGES:
            return endpoint
        return _method_attributes(endpoint, options)
    method = options.method.lower()
    if method == "post" and options.url in _MESSAGES_PATHS:
        return MESSAGES
    return _BY_METHOD.get(method, _OTHER_METHOD)
