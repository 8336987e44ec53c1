"""Canned reply bodies for the suites that run on either HTTP library (``httpx`` or ``httpx2``): server-sent-event
frames, and the byte stream a fake transport answers with."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any


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
