"""A loopback AI gateway: a real HTTP server on 127.0.0.1 that answers the ``openai`` and ``anthropic`` SDKs.

It behaves like a tracing gateway (LiteLLM, Envoy AI Gateway): it joins the caller's trace from ``traceparent``,
records a SERVER span and a simulated upstream provider CLIENT span, returns ``traceresponse`` and gateway headers,
remembers every request, and can be told to misbehave (:class:`Fault`).

Vocabulary: an *exchange* is one HTTP request and its response. A *stream* response is a list of SSE *events*
whose last one is the *final event* (``data: [DONE]``, ``response.completed``, ``message_stop``).

The gateway ends its spans just before the last byte of a response leaves, so a test can assert on the spans as soon
as the SDK call returns (or the stream is read to its end).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import re
import socket
import socketserver
import struct
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.util.types import AttributeValue

__all__ = ["Fault", "LoopbackGateway", "RecordedRequest", "TokenUsage"]

_CREATED = 1_700_000_000
"""Fixed ``created`` timestamp: canned bodies are deterministic."""

_TRACER_NAME = "aigw_trace.testing.gateway"
"""Instrumentation scope of the gateway's spans."""

_ROLE = "aigw.gateway.role"
"""Span attribute telling the gateway's SERVER span (``gateway``) from the simulated provider span (``upstream``)."""

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_SESSION_HEADERS = ("agent-session-id", "x-litellm-session-id")
"""Session headers gateways read (Envoy AI Gateway, LiteLLM), besides baggage ``session.id``."""


# --- public data ---


@dataclass(frozen=True)
class TokenUsage:
    """Token counts every answer reports, in OpenAI terms: cached and cache-creation tokens are part of ``input``.

    Anthropic bodies split them the way Anthropic does: ``input_tokens`` there is
    ``input_tokens - cached_tokens - cache_creation_tokens``.
    """

    input_tokens: int = 12
    output_tokens: int = 5
    cached_tokens: int = 4
    cache_creation_tokens: int = 2
    reasoning_tokens: int = 1

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``."""
        return self.input_tokens + self.output_tokens


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
        return cls.raw_body(_dumps(payload), path=path)


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


# --- canned bodies ---


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{head}data: {payload}\n\n".encode()


def _split(text: str, pieces: int) -> list[str]:
    """``text`` in ``pieces`` contiguous parts, as even as possible (trailing parts are empty if text is short)."""
    size, extra = divmod(len(text), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


@dataclass(frozen=True)
class _Turn:
    """Everything one canned answer is made of."""

    request: Mapping[str, Any]
    model: str
    text: str
    chunks: int
    usage: TokenUsage
    seq: int
    dimensions: int
    models: tuple[str, ...]

    def id(self, prefix: str) -> str:
        return f"{prefix}{self.seq:024d}"

    @property
    def deltas(self) -> list[str]:
        return _split(self.text, self.chunks)


def _chat_usage(u: TokenUsage) -> dict[str, Any]:
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_creation_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    }


def _chat_completion(t: _Turn) -> Any:
    return {
        "id": t.id("chatcmpl-"),
        "object": "chat.completion",
        "created": _CREATED,
        "model": t.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": t.text, "refusal": None, "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": _chat_usage(t.usage),
        "system_fingerprint": "fp_loopback",
        "service_tier": "default",
    }


def _include_usage(t: _Turn) -> bool:
    options = t.request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chat_stream(t: _Turn) -> list[bytes]:
    include_usage = _include_usage(t)

    def chunk(choices: list[Any], usage: Any = None) -> bytes:
        body = {
            "id": t.id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": _CREATED,
            "model": t.model,
            "choices": choices,
            "system_fingerprint": "fp_loopback",
            "service_tier": "default",
        }
        if include_usage:  # the API sends "usage": null on every chunk but the usage one
            body["usage"] = usage
        return _sse(body)

    def choice(delta: dict[str, Any], finish_reason: str | None = None) -> list[Any]:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]

    events = [chunk(choice({"role": "assistant", "content": "", "refusal": None}))]
    events += [chunk(choice({"content": delta})) for delta in t.deltas]
    events.append(chunk(choice({}, "stop")))
    if include_usage:
        events.append(chunk([], _chat_usage(t.usage)))
    return [*events, _sse("[DONE]")]


def _completion_body(t: _Turn, text: str, finish_reason: str | None, usage: bool) -> Any:
    return {
        "id": t.id("cmpl-"),
        "object": "text_completion",
        "created": _CREATED,
        "model": t.model,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}],
        "system_fingerprint": "fp_loopback",
        "usage": _completion_usage(t.usage) if usage else None,
    }


def _completion_usage(u: TokenUsage) -> dict[str, Any]:
    return {"prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens, "total_tokens": u.total_tokens}


def _completion(t: _Turn) -> Any:
    return _completion_body(t, t.text, "stop", usage=True)


def _completion_stream(t: _Turn) -> list[bytes]:
    events = [_sse(_completion_body(t, delta, None, usage=False)) for delta in t.deltas]
    events.append(_sse(_completion_body(t, "", "stop", usage=False)))
    if _include_usage(t):
        events.append(_sse({**_completion_body(t, "", None, usage=True), "choices": []}))
    return [*events, _sse("[DONE]")]


def _response_usage(u: TokenUsage) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cached_tokens, "cache_write_tokens": u.cache_creation_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens,
    }


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _output_message(t: _Turn, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_output_text(text)]
    return {"id": t.id("msg_"), "type": "message", "role": "assistant", "status": status, "content": content}


def _response_object(t: _Turn, completed: bool) -> dict[str, Any]:
    return {
        "id": t.id("resp_"),
        "object": "response",
        "created_at": _CREATED,
        "completed_at": _CREATED if completed else None,
        "status": "completed" if completed else "in_progress",
        "model": t.model,
        "output": [_output_message(t, t.text, "completed")] if completed else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "text": {"format": {"type": "text"}},
        "service_tier": "default",
        "usage": _response_usage(t.usage) if completed else None,
    }


def _response(t: _Turn) -> Any:
    return _response_object(t, completed=True)


def _response_stream(t: _Turn) -> list[bytes]:
    # The whole typed sequence, not just created/delta/completed: `client.responses.stream()` needs the
    # output_item/content_part events to accumulate text.
    item = {"item_id": t.id("msg_"), "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": _response_object(t, completed=False)},
        {"type": "response.in_progress", "response": _response_object(t, completed=False)},
        {"type": "response.output_item.added", "output_index": 0, "item": _output_message(t, None, "in_progress")},
        {"type": "response.content_part.added", **item, "part": _output_text("")},
        *({"type": "response.output_text.delta", **item, "delta": d, "logprobs": []} for d in t.deltas),
        {"type": "response.output_text.done", **item, "text": t.text, "logprobs": []},
        {"type": "response.content_part.done", **item, "part": _output_text(t.text)},
        {"type": "response.output_item.done", "output_index": 0, "item": _output_message(t, t.text, "completed")},
        {"type": "response.completed", "response": _response_object(t, completed=True)},
    ]
    return [_sse({**event, "sequence_number": n}, event["type"]) for n, event in enumerate(events)]


def _embedding_count(value: Any) -> int:
    """How many vectors an ``input`` asks for: one per string or token list; one for a single one."""
    if isinstance(value, list) and value and not all(isinstance(v, int) for v in value):
        return len(value)
    return 1


def _embeddings(t: _Turn) -> Any:
    dimensions = t.request.get("dimensions") or t.dimensions
    as_base64 = t.request.get("encoding_format") == "base64"
    data = []
    for index in range(_embedding_count(t.request.get("input"))):
        # Sixteenths are exact in float32, so base64-decoded vectors compare equal to these.
        vector = [(index + j + 1) / 16 for j in range(dimensions)]
        encoded: Any = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode() if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    usage = {"prompt_tokens": t.usage.input_tokens, "total_tokens": t.usage.input_tokens}
    return {"object": "list", "data": data, "model": t.model, "usage": usage}


def _models(t: _Turn) -> Any:
    data = [{"id": model, "object": "model", "created": _CREATED, "owned_by": "loopback"} for model in t.models]
    return {"object": "list", "data": data}


def _anthropic_usage(u: TokenUsage, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens - u.cached_tokens - u.cache_creation_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "cache_creation_input_tokens": u.cache_creation_tokens,
        "service_tier": "standard",
    }


def _message_object(t: _Turn, done: bool) -> dict[str, Any]:
    return {
        "id": t.id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": t.model,
        "content": [{"type": "text", "text": t.text}] if done else [],
        "stop_reason": "end_turn" if done else None,
        "stop_sequence": None,
        # message_start reports 1 output token so far, as the API does
        "usage": _anthropic_usage(t.usage, t.usage.output_tokens if done else 1),
    }


def _message(t: _Turn) -> Any:
    return _message_object(t, done=True)


def _message_stream(t: _Turn) -> list[bytes]:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": _message_object(t, done=False)},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": d}} for d in t.deltas),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": t.usage.output_tokens},
        },
        {"type": "message_stop"},
    ]
    return [_sse(event, event["type"]) for event in events]


def _count_tokens(t: _Turn) -> Any:
    return {"input_tokens": t.usage.input_tokens}


# --- errors, per provider ---

_OPENAI_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error"}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _openai_error(status: int, message: str) -> Any:
    kind = _OPENAI_ERROR_TYPES.get(status, "rate_limit_exceeded" if status == 429 else "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def _anthropic_error(status: int, message: str) -> Any:
    kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _openai_error_event(message: str) -> bytes:
    return _sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


def _anthropic_error_event(message: str) -> bytes:
    return _sse({"type": "error", "error": {"type": "overloaded_error", "message": message}}, "error")


@dataclass(frozen=True)
class _Provider:
    name: str
    """``gen_ai.provider.name`` of the simulated upstream."""
    error_body: Callable[[int, str], Any]
    error_event: Callable[[str], bytes]


_OPENAI = _Provider("openai", _openai_error, _openai_error_event)
_ANTHROPIC = _Provider("anthropic", _anthropic_error, _anthropic_error_event)


@dataclass(frozen=True)
class _Route:
    provider: _Provider
    operation: str | None
    """Operation of the simulated upstream call; ``None`` when the gateway answers by itself."""
    body: Callable[[_Turn], Any]
    stream: Callable[[_Turn], list[bytes]] | None = None


_ROUTES: dict[tuple[str, str], _Route] = {
    ("POST", "/v1/chat/completions"): _Route(_OPENAI, "chat", _chat_completion, _chat_stream),
    ("POST", "/v1/responses"): _Route(_OPENAI, "chat", _response, _response_stream),
    ("POST", "/v1/embeddings"): _Route(_OPENAI, "embeddings", _embeddings),
    ("POST", "/v1/completions"): _Route(_OPENAI, "text_completion", _completion, _completion_stream),
    ("GET", "/v1/models"): _Route(_OPENAI, None, _models),
    ("POST", "/v1/messages"): _Route(_ANTHROPIC, "chat", _message, _message_stream),
    ("POST", "/v1/messages/count_tokens"): _Route(_ANTHROPIC, "count_tokens", _count_tokens),
}
"""What the gateway answers, by (method, path). Adding an endpoint is adding a row."""


# --- one exchange ---


@dataclass
class _Answer:
    """What to send back: a whole ``body``, or stream ``events`` (possibly cut or ending in ``error_event``)."""

    status: int
    content_type: str
    body: bytes = b""
    events: list[bytes] | None = None
    stop_after: int | None = None
    """Send only this many events."""
    error_event: bytes | None = None
    """Sent after ``stop_after`` events."""
    drop_connection: bool = False
    """After ``stop_after`` events, drop the connection instead of ending the body."""
    error: str | None = None
    """What went wrong, for the spans (``error.type``), though the status may be 200."""


class _Spans:
    """The gateway's SERVER span and, under it, the simulated provider CLIENT span; both end once, together."""

    def __init__(self, server: Span, upstream: Span | None) -> None:
        self.server = server
        self.upstream = upstream
        self._ended = False

    @classmethod
    def start(
        cls,
        gateway: LoopbackGateway,
        method: str,
        path: str,
        route: _Route | None,
        carrier: Mapping[str, str],
        model: str | None,
    ) -> _Spans:
        incoming = propagate.extract(carrier)
        caller = trace.get_current_span(incoming).get_span_context()
        restart = gateway.restart_trace and caller.is_valid
        attributes: dict[str, AttributeValue] = {
            _ROLE: "gateway",
            "http.request.method": method,
            "url.path": path,
            "url.scheme": "http",
            "server.address": gateway.host,
            "server.port": gateway.port,
        }
        if route is not None:
            attributes["http.route"] = path
        server = gateway._tracer.start_span(
            f"{method} {path}" if route is not None else method,  # HTTP semconv: no route, no path in the name
            Context() if restart else incoming,
            SpanKind.SERVER,
            attributes=attributes,
            links=[Link(caller, {"aigw.link.reason": "caller"})] if restart else None,
        )
        if route is None or route.operation is None:
            return cls(server, None)
        # No gen_ai.operation.name on purpose: client-side test helpers pick "their" GenAI spans by it, and the
        # gateway may share their tracer provider.
        upstream_attributes: dict[str, AttributeValue] = {
            _ROLE: "upstream",
            "gen_ai.provider.name": route.provider.name,
        }
        if model:
            upstream_attributes["gen_ai.request.model"] = model
        session = baggage.get_baggage("session.id", incoming) or next(
            (carrier[h] for h in _SESSION_HEADERS if h in carrier), None
        )
        if session:
            upstream_attributes["gen_ai.conversation.id"] = str(session)
        upstream = gateway._upstream_tracer.start_span(
            f"{route.operation} {model or 'unknown'}",
            trace.set_span_in_context(server, Context()),
            SpanKind.CLIENT,
            attributes=upstream_attributes,
        )
        return cls(server, upstream)

    def traceresponse(self) -> str | None:
        """``00-<trace id>-<server span id>-<flags>`` when the server span is sampled.

        The flags are the span's own: the SDK sets ``03`` (sampled + random trace id) on a trace it starts, as
        LiteLLM's ``traceresponse`` shows.
        """
        ctx = self.server.get_span_context()
        if not (self.server.is_recording() and ctx.is_valid and ctx.trace_flags.sampled):
            return None
        return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"

    def end(self, status: int | None, error: str | None = None, usage: TokenUsage | None = None) -> None:
        """End both spans (first call wins); ``error`` marks a failure the status code does not show.

        ``status`` is ``None`` when no response was sent.
        """
        if self._ended:
            return
        self._ended = True
        error_type = error or (str(status) if status is not None and status >= 400 else None)
        if self.upstream is not None:
            if error_type is not None:
                self.upstream.set_attribute("error.type", error_type)
                self.upstream.set_status(Status(StatusCode.ERROR, error_type))
            elif usage is not None:
                self.upstream.set_attributes(
                    {"gen_ai.usage.input_tokens": usage.input_tokens, "gen_ai.usage.output_tokens": usage.output_tokens}
                )
            self.upstream.end()
        if status is not None:
            self.server.set_attribute("http.response.status_code", status)
        # HTTP server semantics: a 4xx is the caller's fault, not the server's; a broken 200 stream is the server's.
        if error_type is not None and (error is not None or status is None or status >= 500):
            self.server.set_attribute("error.type", error_type)
            self.server.set_status(Status(StatusCode.ERROR, error_type))
        self.server.end()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like a real gateway
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: a test run is not an access log."""

    def do_GET(self) -> None:
        self.server.gateway._exchange(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def send_head(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))


class _Server(ThreadingHTTPServer):
    """Tracks its connections and handler threads so that ``stop()`` can end them promptly and join them."""

    daemon_threads = True
    block_on_close = False  # threads are joined by stop(), after their sockets are shut down

    def __init__(self, gateway: LoopbackGateway) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.gateway = gateway
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), a DNS lookup a loopback server does not need.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", int(self.server_address[1])

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        # SSE events are small writes; without this, Nagle + delayed ACK stalls them by ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._connections.add(sock)
        return sock, address

    def process_request(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="aigw-loopback-conn", daemon=True
        )
        with self._lock:
            self._workers.add(thread)
        thread.start()

    def _serve_connection(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response (a stream closed early, a cancelled task, stop()) is a normal event
        # for a test gateway; socketserver's default would print a traceback into the test output.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection (waking handlers blocked on keep-alive reads) and join their threads."""
        with self._lock:
            connections, threads = list(self._connections), list(self._workers)
        for sock in connections:
            with contextlib.suppress(OSError):  # already closed by its handler
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


# --- the gateway ---


class _Stopping(Exception):
    """stop() was called while an exchange was waiting: drop the connection instead of answering."""


class LoopbackGateway:
    """A tracing AI gateway on ``127.0.0.1`` for tests, speaking enough OpenAI and Anthropic HTTP for the real SDKs.

    Use as a context manager (or ``start()`` / ``stop()``)::

        with LoopbackGateway(tracer_provider=provider) as gateway:
            client = openai.OpenAI(api_key="test", base_url=gateway.openai_base_url)
            client.chat.completions.create(model="gpt-4o", messages=[...])
            assert gateway.last_request.traceparent

    Per request it extracts the caller's context with the global propagator, records a SERVER span
    (``POST /v1/chat/completions``) and under it a simulated provider CLIENT span (``chat <model>``), and answers
    with ``traceresponse`` (when its span is sampled), LiteLLM-like ``x-litellm-*`` headers and
    ``x-envoy-upstream-service-time``. Public attributes (``text``, ``stream_chunks``, ``usage``,
    ``response_headers``, ``restart_trace``, ``gateway_headers``) may be changed between requests.

    Args:
        tracer_provider: for the gateway's spans; the global provider when ``None``.
        upstream_tracer_provider: for the simulated provider spans; ``tracer_provider`` when ``None``.
        text: the reply text of every answer.
        stream_chunks: how many content deltas a stream carries (they concatenate to ``text``).
        usage: token counts every answer reports.
        response_headers: extra headers on every response.
        restart_trace: ignore the caller's context and start a new trace (linked to the caller's span).
        gateway_headers: send the ``x-litellm-*`` / ``x-envoy-*`` headers.
        models: ids listed by ``GET /v1/models``.
        embedding_dimensions: length of embedding vectors when the request does not set ``dimensions``.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        upstream_tracer_provider: TracerProvider | None = None,
        text: str = "pong",
        stream_chunks: int = 2,
        usage: TokenUsage | None = None,
        response_headers: Mapping[str, str] | None = None,
        restart_trace: bool = False,
        gateway_headers: bool = True,
        models: Sequence[str] = ("gpt-4o-mini", "claude-haiku-4-5"),
        embedding_dimensions: int = 8,
    ) -> None:
        if stream_chunks < 1:
            raise ValueError("stream_chunks must be at least 1")
        self.text = text
        self.stream_chunks = stream_chunks
        self.usage = usage or TokenUsage()
        self.response_headers: dict[str, str] = dict(response_headers or {})
        self.restart_trace = restart_trace
        self.gateway_headers = gateway_headers
        self.models = tuple(models)
        self.embedding_dimensions = embedding_dimensions
        self._tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
        self._upstream_tracer = trace.get_tracer(
            _TRACER_NAME, tracer_provider=upstream_tracer_provider or tracer_provider
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._seq = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> LoopbackGateway:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="aigw-loopback", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, cut open connections (interrupting delays and streams) and join every thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections(timeout)
        server.server_close()
        thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> LoopbackGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses ---

    @property
    def host(self) -> str:
        """Always ``127.0.0.1``: the gateway never listens beyond loopback."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port picked at ``start()``; ``RuntimeError`` when not running."""
        if self._server is None:
            raise RuntimeError("the gateway is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` (``…/v1``)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.Anthropic`` (no ``/v1``: the SDK adds it)."""
        return self.url

    # --- faults and recordings ---

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is consumed, in order, by the next request matching its ``path``."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not consumed yet."""
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The latest request; ``LookupError`` when there is none."""
        with self._lock:
            if not self._requests:
                raise LookupError("the gateway has received no request")
            return self._requests[-1]

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no exchange is in progress (e.g. after a client abandoned a stream); ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # --- serving (handler threads) ---

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path is None or fault.path == path:
                    return self._faults.pop(i)
        return None

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _exchange(self, handler: _Handler) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            self._serve(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _serve(self, handler: _Handler) -> None:
        started = time.monotonic()
        method, (path, _, query) = handler.command, handler.path.partition("?")
        headers = _lower_headers(handler.headers.items())
        body = handler.read_body()
        payload = _parse_json(body)
        request = payload if isinstance(payload, dict) else {}
        model = request["model"] if isinstance(request.get("model"), str) else None
        route = _ROUTES.get((method, path))
        fault = self._take_fault(path)
        spans = _Spans.start(self, method, path, route, headers, model)
        try:
            overhead_ms = (time.monotonic() - started) * 1000
            turn = _Turn(
                request=request,
                model=model or "unknown",
                text=self.text,
                chunks=self.stream_chunks,
                usage=self.usage,
                seq=self._next_seq(),
                dimensions=self.embedding_dimensions,
                models=self.models,
            )
            answer = _answer(route, turn, fault, method, path)
            response_headers = self._response_headers(answer, turn, spans, fault, started, overhead_ms)
            recorded = RecordedRequest(
                method, path, query, headers, body, payload, answer.status, response_headers, fault
            )
            with self._lock:
                self._requests.append(recorded)
            if fault is not None:
                self._pause(fault.delay)
            usage = self.usage if route is not None and answer.status < 400 else None
            self._write(handler, answer, response_headers, spans, usage, fault.chunk_delay if fault else 0.0)
        except _Stopping:
            handler.close_connection = True
            spans.end(None, "gateway_stopped")
        except OSError:
            # The client went away (or stop() cut the connection): a gateway sees that as a failed exchange.
            handler.close_connection = True
            spans.end(None, "client_disconnected")
        finally:
            spans.end(500, "gateway_error")  # no-op unless something above raised

    def _pause(self, seconds: float) -> None:
        """Sleep, unless stop() is called meanwhile: then raise ``_Stopping`` so nothing more is sent."""
        if seconds > 0:
            self._stopping.wait(seconds)
        if self._stopping.is_set():
            raise _Stopping

    def _response_headers(
        self, answer: _Answer, turn: _Turn, spans: _Spans, fault: Fault | None, started: float, overhead_ms: float
    ) -> dict[str, str]:
        """Framing headers, then the gateway's own, then the test's extras, then the fault's (later ones win)."""
        headers = {"content-type": answer.content_type}
        if answer.events is not None:
            headers.update({"transfer-encoding": "chunked", "cache-control": "no-cache"})
        else:
            headers["content-length"] = str(len(answer.body))
        if self.gateway_headers:
            headers.update(_gateway_headers(turn, started, overhead_ms))
        if (traceresponse := spans.traceresponse()) is not None:
            headers["traceresponse"] = traceresponse
        headers.update(_lower_headers(self.response_headers.items()))
        if fault is not None:
            headers.update(_lower_headers(fault.headers.items()))
        return headers

    def _write(
        self,
        handler: _Handler,
        answer: _Answer,
        headers: Mapping[str, str],
        spans: _Spans,
        usage: TokenUsage | None,
        chunk_delay: float,
    ) -> None:
        if answer.events is None:
            spans.end(answer.status, answer.error, usage)
            handler.send_head(answer.status, headers)
            handler.wfile.write(answer.body)
            return
        handler.send_head(answer.status, headers)
        events = answer.events[: answer.stop_after]
        for i, event in enumerate(events):
            if i:
                self._pause(chunk_delay)
            if i == len(events) - 1 and answer.stop_after is None:
                spans.end(answer.status, None, usage)  # before the final event leaves: see the module docstring
            handler.send_chunk(event)
        spans.end(answer.status, answer.error, usage)
        if answer.error_event is not None:
            handler.send_chunk(answer.error_event)
        if answer.drop_connection:
            handler.close_connection = True  # the body ends without its terminating chunk
            return
        handler.wfile.write(b"0\r\n\r\n")


def _answer(route: _Route | None, turn: _Turn, fault: Fault | None, method: str, path: str) -> _Answer:
    """Decide the response: unknown route, fault, stream or JSON body."""
    if route is None:
        return _Answer(404, "application/json", _dumps(_openai_error(404, f"Unknown route: {method} {path}")))
    if fault is not None and fault.body is not None:
        return _Answer(fault.status or 200, fault.content_type, fault.body)
    if fault is not None and fault.status is not None and fault.status >= 400:
        return _Answer(fault.status, "application/json", _dumps(route.provider.error_body(fault.status, fault.message)))
    if turn.request.get("stream") is not True or route.stream is None:
        return _Answer(fault.status if fault and fault.status else 200, "application/json", _dumps(route.body(turn)))

    answer = _Answer(200, "text/event-stream", events=route.stream(turn))
    last = len(answer.events or ()) - 1  # never cut after the final event: that would not be a cut
    if fault is not None and fault.cut_after is not None:
        answer.stop_after = min(fault.cut_after, last)
        answer.drop_connection = not fault.graceful_cut
        answer.error = "stream_cut"
    elif fault is not None and fault.error_event_after is not None:
        answer.stop_after = min(fault.error_event_after, last)
        answer.error_event = route.provider.error_event(fault.message)
        answer.error = "stream_error_event"
    return answer


def _gateway_headers(turn: _Turn, started: float, overhead_ms: float) -> dict[str, str]:
    """LiteLLM's response headers (§4 of the gateway reference) and Envoy's upstream time."""
    elapsed_ms = (time.monotonic() - started) * 1000
    cost = turn.usage.input_tokens * 1e-6 + turn.usage.output_tokens * 2e-6
    return {
        "x-litellm-call-id": str(uuid.UUID(int=turn.seq)),
        "x-litellm-model-id": hashlib.sha256(turn.model.encode()).hexdigest()[:16],
        "x-litellm-model-group": turn.model,
        "x-litellm-response-cost": repr(cost),
        "x-litellm-response-duration-ms": f"{elapsed_ms:.3f}",
        "x-litellm-overhead-duration-ms": f"{overhead_ms:.3f}",
        "x-litellm-attempted-retries": "0",
        "x-litellm-attempted-fallbacks": "0",
        "x-envoy-upstream-service-time": str(int(elapsed_ms)),
    }


def _lower_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:
        return None
