"""Shared helpers: a recording fake API behind ``httpx2.MockTransport``, so tests go through the real SDK clients."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest

from tests.canned import body_class


@dataclass
class Reply:
    """One canned HTTP reply. ``chunks`` makes a streamed body that stays open until read, like a network one."""

    status: int = 200
    json: Any = None
    chunks: list[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raise_error: BaseException | None = None
    traceresponse_span: str | None = None
    """Answer like a gateway that continued the caller's trace: ``traceresponse`` with this span id."""


@dataclass
class FakeAPI:
    """Answers SDK requests from a queue of replies (the last one repeats) and records what it received."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    bodies_closed: list[bool] = field(default_factory=list)

    def reply(self, *replies: Reply) -> FakeAPI:
        self.replies.extend(replies)
        return self

    def _next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _respond(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self._next()
        if reply.raise_error is not None:
            raise reply.raise_error
        if reply.traceresponse_span is not None:
            trace_id = request.headers["traceparent"].split("-")[1]
            traceresponse = f"00-{trace_id}-{reply.traceresponse_span}-01"
            reply = Reply(reply.status, reply.json, reply.chunks, {**reply.headers, "traceresponse": traceresponse})
        if reply.chunks is not None:
            headers = {"content-type": "text/event-stream", **reply.headers}
            return httpx2.Response(
                reply.status, headers=headers, stream=body_class(httpx2)(reply.chunks, self.bodies_closed)
            )
        return httpx2.Response(reply.status, json=reply.json, headers=reply.headers)

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._respond(request)

    async def async_handler(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._respond(request)

    @property
    def headers(self) -> list[httpx2.Headers]:
        return [r.headers for r in self.requests]

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def fake_api() -> FakeAPI:
    return FakeAPI()


def parent_of(headers: httpx2.Headers) -> tuple[str, str, bool]:
    """(trace id, parent span id, sampled) from a ``traceparent`` header."""
    version, trace_id, span_id, flags = headers["traceparent"].split("-")
    assert version == "00"
    return trace_id, span_id, bool(int(flags, 16) & 0x01)


def ids(span: Any) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


@pytest.fixture
def openai_client(fake_api: FakeAPI) -> Callable[..., Any]:
    """Factory for real ``openai.OpenAI`` / ``AsyncOpenAI`` clients talking to ``fake_api``."""
    import openai

    def make(*, is_async: bool = False, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", "sk-test-secret")
        kwargs.setdefault("base_url", "http://gateway.test:4000/v1")
        kwargs.setdefault("max_retries", 0)
        if is_async:
            transport = httpx2.MockTransport(fake_api.async_handler)
            return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=transport), **kwargs)
        transport = httpx2.MockTransport(fake_api.handler)
        return openai.OpenAI(http_client=httpx2.Client(transport=transport), **kwargs)

    return make
