"""What ``request_hook`` and ``response_hook`` receive, besides the span."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span


@dataclass(frozen=True)
class RequestInfo:
    """A call about to be sent. ``body`` is the JSON body as sent (``extra_body`` merged in); read, don't mutate."""

    provider: str
    """``gen_ai.provider.name`` of the client."""
    operation: str
    """``gen_ai.operation.name`` (``chat``, ``embeddings``, …)."""
    model: str | None
    method: str
    path: str
    """The SDK's request path, e.g. ``/chat/completions``."""
    body: Mapping[str, Any]
    stream: bool
    client: Any
    """The SDK client instance."""


@dataclass(frozen=True)
class ResponseInfo:
    """A call that has ended, just before its span ends."""

    response: Any
    """The parsed SDK response; for streams a summary shaped like the non-streamed response (a dict); ``None``
    when the call failed before a response."""
    error: BaseException | None
    stream: bool
    headers: Mapping[str, str] | None
    """The final HTTP response's headers, when the call got that far."""


RequestHook = Callable[[Span, RequestInfo], None]
ResponseHook = Callable[[Span, ResponseInfo], None]
