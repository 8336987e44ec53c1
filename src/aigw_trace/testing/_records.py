"""What the loopback gateway remembers of each request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._faults import Fault

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class RecordedRequest:
    """One request the gateway received, and what it answered (status and headers, before any body)."""

    method: str
    path: str
    """Path without the query string."""
    query: str
    headers: Mapping[str, str]
    """Request headers with lower-cased names (repeated headers joined with ``", "``)."""
    body: bytes
    json: Any
    """The body parsed as JSON, or ``None``."""
    status: int
    response_headers: Mapping[str, str]
    """Response headers with lower-cased names."""
    fault: Fault | None = None
    """The fault this request consumed."""

    @property
    def stream(self) -> bool:
        """Whether the body asked for a stream (``"stream": true``)."""
        return isinstance(self.json, dict) and self.json.get("stream") is True

    @property
    def traceparent(self) -> str | None:
        """The raw ``traceparent`` header."""
        return self.headers.get("traceparent")

    @property
    def tracestate(self) -> str | None:
        """The raw ``tracestate`` header."""
        return self.headers.get("tracestate")

    @property
    def baggage(self) -> str | None:
        """The raw ``baggage`` header."""
        return self.headers.get("baggage")

    @property
    def trace_id(self) -> str | None:
        """Trace id of a well-formed ``traceparent`` (32 hex digits)."""
        parts = self._traceparent_parts()
        return parts[1] if parts else None

    @property
    def parent_span_id(self) -> str | None:
        """Span id of a well-formed ``traceparent`` (16 hex digits): the caller's span."""
        parts = self._traceparent_parts()
        return parts[2] if parts else None

    @property
    def sampled(self) -> bool | None:
        """The sampled flag of a well-formed ``traceparent``."""
        parts = self._traceparent_parts()
        return bool(int(parts[3], 16) & 0x01) if parts else None

    def _traceparent_parts(self) -> tuple[str, ...] | None:
        match = _TRACEPARENT.match(self.traceparent or "")
        return match.groups() if match else None
