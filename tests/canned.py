"""Canned replies, with no HTTP library, for every suite (the version matrix's too, which runs on ``httpx`` or
``httpx2``): an OpenAI chat completion and an Anthropic message body, server-sent-event frames, and the byte stream a
fake transport answers with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any


def completion(**overrides: Any) -> dict[str, Any]:
    """An OpenAI chat completion body (11 prompt tokens, 4 of them cached; 3 completion tokens, 2 of reasoning)."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 3,
            "total_tokens": 14,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 2},
        },
        "system_fingerprint": "fp_abc",
        "service_tier": "default",
    }
    body.update(overrides)
    return body


def message(**overrides: Any) -> dict[str, Any]:
    """An Anthropic message body (11 input tokens outside the cache, 5 read from it and 2 written; 3 output)."""
    body: dict[str, Any] = {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "pong"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 11,
            "output_tokens": 3,
            "cache_read_input_tokens": 5,
            "cache_creation_input_tokens": 2,
            "service_tier": "standard",
        },
    }
    body.update(overrides)
    return body


def sse(events: list[Any], *, done: bool = True, named: bool = False) -> list[bytes]:
    """SSE frames for ``events`` (dicts become ``data:`` JSON; with ``named`` an ``event:`` line from ``type``)."""
    frames = []
    for event in events:
        head = f"event: {event['type']}\n" if named and isinstance(event, dict) else ""
        frames.append(f"{head}data: {json.dumps(event)}\n\n".encode())
    if done:
        frames.append(b"data: [DONE]\n\n")
    return frames


@cache
def body_class(hx: ModuleType) -> type:
    """A byte stream of ``hx`` (``httpx`` or ``httpx2``), sync and async, that reports its closing: made with
    ``(chunks, closed)``, it appends ``False`` to ``closed`` and sets that entry when the body is closed."""

    class Body(hx.SyncByteStream, hx.AsyncByteStream):  # type: ignore[name-defined,misc]
        def __init__(self, chunks: list[bytes], closed: list[bool]) -> None:
            self._chunks = chunks
            self._closed = closed
            self._index = len(closed)
            closed.append(False)

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self) -> Any:
            for chunk in self._chunks:
                yield chunk

        def close(self) -> None:
            self._closed[self._index] = True

        async def aclose(self) -> None:
            self.close()

    return Body
