"""``stream_usage``: token usage on every OpenAI chat/completion stream, without the app seeing the extra chunk.

The fake provider behaves like the real API: it sends the usage-only chunk only when the request asks for it. Each
case runs uninstrumented and instrumented, and the app must see the same items either way.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx2
import openai
import pytest

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.providers.test_openai_chat import MESSAGES, chunk

USAGE = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}


def _completion_chunk(text: str, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}] if text or finish else []
    return {"id": "cmpl-u", "object": "text_completion", "created": 1, "model": "instruct-0914", "choices": choices,
            **extra}  # fmt: skip


class Provider:
    """Streams a short answer; appends the usage-only chunk when ``stream_options.include_usage`` is true."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def respond(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        completions = request.url.path.endswith("/completions") and "messages" not in body
        if completions:
            events = [_completion_chunk("po"), _completion_chunk("ng", "stop")]
        else:
            events = [chunk({"role": "assistant", "content": "po"}), chunk({"content": "ng"}, finish="stop")]
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append(_completion_chunk("", usage=USAGE) if completions else chunk(None, usage=USAGE))
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"".join(sse(events)))

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self.respond(request)

    async def async_handler(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self.respond(request)


def _client(provider: Provider, is_async: bool) -> Any:
    kw: dict[str, Any] = {"api_key": "sk-test", "base_url": "http://gateway.test/v1", "max_retries": 0}
    if is_async:
        transport = httpx2.MockTransport(provider.async_handler)
        return openai.AsyncOpenAI(http_client=httpx2.AsyncClient(transport=transport), **kw)
    return openai.OpenAI(http_client=httpx2.Client(transport=httpx2.MockTransport(provider.handler)), **kw)


def _seen(item: Any) -> Any:
    return item.model_dump() if hasattr(item, "model_dump") else repr(item)


def _chat(client: Any, **kw: Any) -> list[Any]:
    return [_seen(c) for c in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, **kw)]


def _completions(client: Any, **kw: Any) -> list[Any]:
    return [_seen(c) for c in client.completions.create(model="instruct", prompt="x", stream=True, **kw)]


def _helper(client: Any, **kw: Any) -> list[Any]:
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, **kw) as stream:
        events = [_seen(e) for e in stream]
        return [*events, _seen(stream.get_final_completion())]


async def _async_chat(client: Any, **kw: Any) -> list[Any]:
    stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True, **kw)
    return [_seen(c) async for c in stream]


def _run(call: Any, provider: Provider, is_async: bool, **kw: Any) -> list[Any]:
    client = _client(provider, is_async)
    return asyncio.run(call(client, **kw)) if is_async else call(client, **kw)


CALLS = [(_chat, False), (_completions, False), (_helper, False), (_async_chat, True)]


@pytest.mark.parametrize(("call", "is_async"), CALLS, ids=[c.__name__.strip("_") for c, _ in CALLS])
def test_usage_is_recorded_and_the_app_sees_what_it_would_without(request, call, is_async):
    plain_provider = Provider()
    plain = _run(call, plain_provider, is_async)
    telemetry = request.getfixturevalue("aigw_telemetry")
    telemetry.instrument(stream_usage=True)
    provider = Provider()
    traced = _run(call, provider, is_async)

    assert traced == plain  # no extra chunk, no usage in the helper's events or final snapshot
    assert provider.bodies[-1]["stream_options"] == {"include_usage": True}
    assert "stream_options" not in plain_provider.bodies[-1]
    span = telemetry.span()
    assert (span.attributes[A.USAGE_INPUT_TOKENS], span.attributes[A.USAGE_OUTPUT_TOKENS]) == (7, 2)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    points = telemetry.metric_points("gen_ai.client.token.usage")
    assert sorted(p.sum for p in points) == [2, 7]


def test_off_by_default(aigw_telemetry):
    provider = Provider()
    _chat(_client(provider, False))
    assert "stream_options" not in provider.bodies[-1]
    assert A.USAGE_INPUT_TOKENS not in aigw_telemetry.span().attributes


@pytest.mark.parametrize(
    "kw",
    [
        {"stream_options": {"include_usage": True}},
        {"stream_options": {"include_usage": False}},
        {"extra_body": {"stream_options": {"include_usage": False}}},
    ],
    ids=["asked", "declined", "declined-in-extra-body"],
)
def test_the_callers_own_choice_stands(aigw_telemetry, kw):
    aigw_telemetry.instrument(stream_usage=True)
    provider = Provider()
    seen = _chat(_client(provider, False), **kw)
    asked = (provider.bodies[-1].get("stream_options") or {}).get("include_usage")
    wanted = kw.get("stream_options", {}).get("include_usage", False)
    assert asked is wanted
    assert (seen[-1]["usage"] is not None) is wanted  # the caller who asked sees the usage chunk


def test_not_asked_where_the_caller_reads_the_raw_bytes(aigw_telemetry):
    aigw_telemetry.instrument(stream_usage=True)
    provider = Provider()
    client = _client(provider, False)
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES, stream=True) as r:
        lines = list(r.iter_lines())
    assert "stream_options" not in provider.bodies[-1]
    assert not any("usage" in line and '"choices": []' in line for line in lines)


def test_the_callers_body_is_never_changed(aigw_telemetry):
    aigw_telemetry.instrument(stream_usage=True)
    provider = Provider()
    options: dict[str, Any] = {"include_obfuscation": False}
    _chat(_client(provider, False), stream_options=options)
    assert options == {"include_obfuscation": False}
    assert provider.bodies[-1]["stream_options"] == {"include_obfuscation": False, "include_usage": True}
