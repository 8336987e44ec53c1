"""The simulated providers' answers: canned OpenAI and Anthropic JSON bodies, SSE streams and error shapes, and the
route table that says which answer each (method, path) gets.

Every answer is built from one :class:`Turn` (the request, the model, the reply text, the token counts), so the same
call answered plain or streamed carries the same content and usage.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_CREATED = 1_700_000_000
"""Fixed ``created`` timestamp: canned bodies are deterministic."""


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


# --- canned bodies ---


def dumps(value: Any) -> bytes:
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
class Turn:
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


def _chat_completion(t: Turn) -> Any:
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


def _include_usage(t: Turn) -> bool:
    options = t.request.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chat_stream(t: Turn) -> list[bytes]:
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


def _completion_body(t: Turn, text: str, finish_reason: str | None, usage: bool) -> Any:
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


def _completion(t: Turn) -> Any:
    return _completion_body(t, t.text, "stop", usage=True)


def _completion_stream(t: Turn) -> list[bytes]:
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


def _output_message(t: Turn, text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_output_text(text)]
    return {"id": t.id("msg_"), "type": "message", "role": "assistant", "status": status, "content": content}


def _response_object(t: Turn, completed: bool) -> dict[str, Any]:
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


def _response(t: Turn) -> Any:
    return _response_object(t, completed=True)


def _response_stream(t: Turn) -> list[bytes]:
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


def _embeddings(t: Turn) -> Any:
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


def _models(t: Turn) -> Any:
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


def _message_object(t: Turn, done: bool) -> dict[str, Any]:
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


def _message(t: Turn) -> Any:
    return _message_object(t, done=True)


def _message_stream(t: Turn) -> list[bytes]:
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


def _count_tokens(t: Turn) -> Any:
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


def openai_error(status: int, message: str) -> Any:
    kind = _OPENAI_ERROR_TYPES.get(status, "rate_limit_exceeded" if status == 429 else "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def _anthropic_error(status: int, message: str) -> Any:
    kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _openai_error_event(message: str) -> bytes:
    return _sse({"error": {"message": message, "type": "server_error", "param": None, "code": None}})


def _anthropic_error_event(message: str) -> bytes:
    return _sse({"type": "error", "error": {"type": "overloaded_error", "message": message}}, "error")


# --- routes ---


@dataclass(frozen=True)
class _Provider:
    name: str
    """``gen_ai.provider.name`` of the simulated upstream."""
    error_body: Callable[[int, str], Any]
    error_event: Callable[[str], bytes]


_OPENAI = _Provider("openai", openai_error, _openai_error_event)
_ANTHROPIC = _Provider("anthropic", _anthropic_error, _anthropic_error_event)


@dataclass(frozen=True)
class Route:
    provider: _Provider
    operation: str | None
    """Operation of the simulated upstream call; ``None`` when the gateway answers by itself."""
    body: Callable[[Turn], Any]
    stream: Callable[[Turn], list[bytes]] | None = None


ROUTES: dict[tuple[str, str], Route] = {
    ("POST", "/v1/chat/completions"): Route(_OPENAI, "chat", _chat_completion, _chat_stream),
    ("POST", "/v1/responses"): Route(_OPENAI, "chat", _response, _response_stream),
    ("POST", "/v1/embeddings"): Route(_OPENAI, "embeddings", _embeddings),
    ("POST", "/v1/completions"): Route(_OPENAI, "text_completion", _completion, _completion_stream),
    ("GET", "/v1/models"): Route(_OPENAI, None, _models),
    ("POST", "/v1/messages"): Route(_ANTHROPIC, "chat", _message, _message_stream),
    ("POST", "/v1/messages/count_tokens"): Route(_ANTHROPIC, "count_tokens", _count_tokens),
}
"""What the gateway answers, by (method, path). Adding an endpoint is adding a row."""
