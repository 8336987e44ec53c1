"""A recording fake API over the HTTP library the installed SDK really uses (``httpx`` or ``httpx2``).

Nothing here imports ``httpx2`` unless an installed SDK sends through it, so this directory also runs where only
``httpx`` exists (openai 1.x/2.x, anthropic 0.x). ``tests/conftest.py`` imports ``httpx2``; the ``tests-sdks`` nox
session therefore runs this directory with ``--confcutdir=tests/sdks``.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tests.canned import body_class


def transport_of(sdk: str) -> ModuleType:
    """The HTTP library module (``httpx`` or ``httpx2``) that the installed ``sdk``'s base client sends through."""
    base_client = importlib.import_module(f"{sdk}._base_client")
    # The generated base client does ``import httpx2`` (openai 3.x, anthropic >= 1) or ``import httpx`` (older).
    for name in ("httpx2", "httpx"):
        module = getattr(base_client, name, None)
        if isinstance(module, ModuleType):
            return module
    raise AssertionError(f"{sdk}._base_client imports neither httpx2 nor httpx")


@dataclass
class Reply:
    """One canned reply. The body is always a stream that stays open until read, like a network one."""

    chunks: list[bytes]
    content_type: str = "application/json"

    @classmethod
    def of_json(cls, body: Any) -> Reply:
        return cls([json.dumps(body).encode()])

    @classmethod
    def of_events(cls, frames: list[bytes]) -> Reply:
        return cls(frames, "text/event-stream")


OVERLOADED = Reply.of_json({"error": {"type": "overloaded_error", "message": "try again"}})


@dataclass
class FakeAPI:
    """Answers over ``hx.MockTransport`` and records the requests and body closes: the first ``failures`` requests
    get a 503 that the SDK retries at once (``retry-after-ms: 1``), every later one ``reply``."""

    hx: ModuleType
    reply: Reply
    failures: int = 0
    requests: list[Any] = field(default_factory=list)
    bodies_closed: list[bool] = field(default_factory=list)

    def _respond(self, request: Any) -> Any:
        self.requests.append(request)
        failed = len(self.requests) <= self.failures
        reply = OVERLOADED if failed else self.reply
        headers = {"content-type": reply.content_type, **({"retry-after-ms": "1"} if failed else {})}
        body = body_class(self.hx)(reply.chunks, self.bodies_closed)
        return self.hx.Response(503 if failed else 200, headers=headers, stream=body)

    def handler(self, request: Any) -> Any:
        request.read()
        return self._respond(request)

    async def async_handler(self, request: Any) -> Any:
        await request.aread()
        return self._respond(request)

    def http_client(self, *, is_async: bool) -> Any:
        if is_async:
            return self.hx.AsyncClient(transport=self.hx.MockTransport(self.async_handler))
        return self.hx.Client(transport=self.hx.MockTransport(self.handler))
