"""Server-sent-event bodies for canned replies, with no HTTP library: shared by the suites that run on either one."""

from __future__ import annotations

import json
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
