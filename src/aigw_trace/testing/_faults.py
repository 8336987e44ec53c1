"""Faults: one misbehaviour of the loopback gateway, queued by a test and consumed by the next matching request."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ._bodies import dumps


@dataclass(frozen=True)
class Fault:
    """One misbehaviour, consumed by the next request whose path matches ``path`` (any path when ``None``).

    Build them with the class methods (:meth:`error`, :meth:`rate_limited`, :meth:`slow`, :meth:`cut_stream`,
    :meth:`error_event`, :meth:`raw_body`, :meth:`error_in_body`) and combine fields with :func:`dataclasses.replace`.
    """

    status: int | None = None
    """Answer with this HTTP status; 4xx/5xx come with an error body in the provider's shape (unless ``body``)."""
    message: str = "injected fault"
    """Message of the error body or error event."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers (they win over the gateway's own)."""
    body: bytes | None = None
    """Send these bytes as the whole response body instead of the canned one."""
    content_type: str = "application/json"
    """Content type of ``body``."""
    delay: float = 0.0
    """Seconds to wait before the response starts."""
    chunk_delay: float = 0.0
    """Seconds to wait between stream events."""
    cut_after: int | None = None
    """Streams: stop after this many events, never sending the final one."""
    graceful_cut: bool = False
    """With ``cut_after``: end the HTTP body properly instead of dropping the connection."""
    error_event_after: int | None = None
    """Streams: after this many events send an error event (provider shape) instead of the rest."""
    path: str | None = None
    """Only a request to exactly this path (e.g. ``/v1/messages``) consumes the fault."""

    @classmethod
    def error(
        cls,
        status: int = 500,
        message: str = "injected fault",
        *,
        headers: Mapping[str, str] | None = None,
        path: str | None = None,
    ) -> Fault:
        """An HTTP error (4xx/5xx) with a provider-shaped error body."""
        return cls(status=status, message=message, headers=dict(headers or {}), path=path)

    @classmethod
    def rate_limited(cls, retry_after_ms: int = 1, *, path: str | None = None) -> Fault:
        """429 with ``retry-after-ms`` / ``retry-after``.

        The default is 1 ms, not 0: both SDKs ignore a zero delay and fall back to their ~0.5 s backoff.
        """
        headers = {"retry-after-ms": str(retry_after_ms), "retry-after": str(math.ceil(retry_after_ms / 1000))}
        return cls(status=429, message="rate limited", headers=headers, path=path)

    @classmethod
    def slow(cls, delay: float, *, chunk_delay: float = 0.0, path: str | None = None) -> Fault:
        """Added latency: ``delay`` before the response, ``chunk_delay`` between stream events."""
        return cls(delay=delay, chunk_delay=chunk_delay, path=path)

    @classmethod
    def cut_stream(cls, after: int = 1, *, graceful: bool = False, path: str | None = None) -> Fault:
        """Close a stream after ``after`` events without its final event (abruptly unless ``graceful``)."""
        return cls(cut_after=after, graceful_cut=graceful, path=path)

    @classmethod
    def error_event(cls, after: int = 1, message: str = "injected stream error", *, path: str | None = None) -> Fault:
        """An error event mid-stream: OpenAI ``data: {"error": …}``, Anthropic ``event: error`` (overloaded)."""
        return cls(error_event_after=after, message=message, path=path)

    @classmethod
    def raw_body(
        cls, body: bytes | str, *, status: int = 200, content_type: str = "application/json", path: str | None = None
    ) -> Fault:
        """Answer with exactly these bytes (e.g. invalid JSON)."""
        raw = body.encode() if isinstance(body, str) else body
        return cls(status=status, body=raw, content_type=content_type, path=path)

    @classmethod
    def error_in_body(cls, message: str = "upstream failed", *, path: str | None = None) -> Fault:
        """200 with ``{"choices": null, "error": {…}}``, as some OpenAI-compatible gateways answer."""
        payload = {"choices": None, "error": {"message": message, "type": "upstream_error", "code": 502}}
        return cls.raw_body(dumps(payload), path=path)
