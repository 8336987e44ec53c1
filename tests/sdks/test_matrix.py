"""Every way of calling every endpoint family, against whatever openai / anthropic release is installed.

Each case runs a real SDK client over a ``MockTransport`` of the HTTP library that release sends through, twice:
once uninstrumented (the baseline) and once instrumented. It checks that the instrumented call made exactly one
ended GenAI CLIENT span from ``aigw_trace`` with the usage and response model of the canned reply, that every HTTP
request (a 503 first, then the retry that succeeds) carried a ``traceparent`` naming that span, and that the app
saw the same values and types as without instrumentation. ``nox -s tests-sdks`` runs this module against several
releases of each SDK; a family or call style that the installed release lacks is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

import aigw_trace
from aigw_trace import _attributes as A
from tests.canned import message, sse
from tests.sdks.conftest import FakeAPI, Reply, transport_of

# --- canned replies: (reply, input tokens, output tokens or None, response model) ---

CHAT_MESSAGES = [{"role": "user", "content": "ping"}]


def _chat_completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14},
    }


def _chat_chunks() -> list[bytes]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024",
                "choices": choices, **extra}  # fmt: skip

    events = [chunk({"role": "assistant", "content": ""}), chunk({"content": "po"}), chunk({"content": "ng"})]
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    events += [chunk({}, finish="stop"), chunk(None, usage=usage)]
    return sse(events)


def _embedding() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "model": "text-embedding-3-small-001",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


def _response(status: str = "completed", output: list[Any] | None = None, usage: bool = True) -> dict[str, Any]:
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
               "content": [{"type": "output_text", "text": "pong", "annotations": []}]}  # fmt: skip
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1.0,
        "model": "gpt-4.1-2025-04-14",
        "status": status,
        "output": [message] if output is None else output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 6,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 18,
        }
        if usage
        else None,
    }


def _response_events() -> list[bytes]:
    started = _response("in_progress", output=[], usage=False)
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}
    text = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    seq = [
        {"type": "response.created", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": item},
        {"type": "response.content_part.added", **text, "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "delta": "pong", **text},
        {"type": "response.output_text.done", "text": "pong", **text},
        {"type": "response.output_item.done", "output_index": 0, "item": _response()["output"][0]},
        {"type": "response.completed", "response": _response()},
    ]
    return sse([{**event, "sequence_number": i} for i, event in enumerate(seq)], named=True, done=False)


def _message(**overrides: Any) -> dict[str, Any]:
    return message(**{"usage": {"input_tokens": 11, "output_tokens": 3}, **overrides})


def _message_events() -> list[bytes]:
    start = _message(id="msg_s", content=[], stop_reason=None, usage={"input_tokens": 7, "output_tokens": 1})
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "pong"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return sse(events, named=True, done=False)


@dataclass(frozen=True)
class Expect:
    reply: Callable[[], Reply]
    input_tokens: int
    output_tokens: int | None
    model: str


CHAT = Expect(lambda: Reply.of_json(_chat_completion()), 11, 3, "gpt-4o-2024-08-06")
CHAT_STREAM = Expect(lambda: Reply.of_events(_chat_chunks()), 7, 2, "gpt-4o-mini-2024")
EMBEDDINGS = Expect(lambda: Reply.of_json(_embedding()), 8, None, "text-embedding-3-small-001")
RESPONSES = Expect(lambda: Reply.of_json(_response()), 12, 6, "gpt-4.1-2025-04-14")
RESPONSES_STREAM = Expect(lambda: Reply.of_events(_response_events()), 12, 6, "gpt-4.1-2025-04-14")
MESSAGES = Expect(lambda: Reply.of_json(_message()), 11, 3, "claude-sonnet-4-5-20250929")
MESSAGES_STREAM = Expect(lambda: Reply.of_events(_message_events()), 7, 2, "claude-sonnet-4-5-20250929")


# --- families: where the resource lives on a client, its request, its stream helper ---


@dataclass(frozen=True)
class Family:
    sdk: str
    name: str
    resource: tuple[str, ...]
    """Attribute path from the client to the resource with ``create``."""
    kwargs: dict[str, Any]
    plain: Expect
    streamed: Expect | None
    """None: the family has no ``stream=True``."""
    helpers: tuple[tuple[str, ...], ...] = ()
    """Attribute paths to a ``.stream()`` helper, the first that exists is used."""
    final: str = ""
    """The helper's method that returns the assembled result."""
    stream_kwargs: tuple[tuple[str, Any], ...] = ()


FAMILIES = [
    Family("openai", "chat", ("chat", "completions"), {"model": "gpt-4o", "messages": CHAT_MESSAGES}, CHAT,
           CHAT_STREAM, helpers=(("chat", "completions"), ("beta", "chat", "completions")),
           final="get_final_completion", stream_kwargs=(("stream_options", {"include_usage": True}),)),
    Family("openai", "embeddings", ("embeddings",), {"model": "text-embedding-3-small", "input": "ping",
           "encoding_format": "float"}, EMBEDDINGS, None),
    Family("openai", "responses", ("responses",), {"model": "gpt-4.1", "input": "ping"}, RESPONSES,
           RESPONSES_STREAM, helpers=(("responses",),), final="get_final_response"),
    Family("anthropic", "messages", ("messages",), {"model": "claude-test", "max_tokens": 8, "messages": CHAT_MESSAGES},
           MESSAGES, MESSAGES_STREAM, helpers=(("messages",),), final="get_final_message"),
    Family("anthropic", "beta-messages", ("beta", "messages"), {"model": "claude-test", "max_tokens": 8,
           "messages": CHAT_MESSAGES}, MESSAGES, MESSAGES_STREAM, helpers=(("beta", "messages"),),
           final="get_final_message"),
]  # fmt: skip

STYLES = ["plain", "stream", "helper", "raw", "raw-stream", "streaming-response", "streaming-response-stream"]
STREAMED = {"stream", "helper", "raw-stream", "streaming-response-stream"}


def _cases() -> list[Any]:
    cases = []
    for family in FAMILIES:
        for style in STYLES:
            if style in STREAMED and family.streamed is None:
                continue
            if style == "helper" and not family.helpers:
                continue
            cases.append(pytest.param(family, style, id=f"{family.sdk}-{family.name}-{style}"))
    return cases


# --- driving one call the way an app does, sync or async, and summarising what the app saw ---


def _path(obj: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _seen(value: Any) -> Any:
    """What the app sees in ``value``: its type and, for SDK models, their fields."""
    dump = getattr(value, "model_dump", None)
    return (type(value).__module__, type(value).__qualname__, dump(mode="json", warnings=False) if dump else value)


async def _resolve(value: Any) -> Any:
    return await value if hasattr(value, "__await__") else value


async def _drain(stream: Any) -> list[Any]:
    if hasattr(stream, "__aiter__"):
        return [_seen(event) async for event in stream]
    return [_seen(event) for event in stream]


async def _enter(stack: contextlib.AsyncExitStack, manager: Any) -> Any:
    if hasattr(manager, "__aenter__"):
        return await stack.enter_async_context(manager)
    return stack.enter_context(manager)


def _client(sdk: str, api: FakeAPI, *, is_async: bool) -> Any:
    module = importlib.import_module(sdk)
    if sdk == "openai":
        cls = module.AsyncOpenAI if is_async else module.OpenAI
        base_url = "http://gateway.test:4000/v1"
    else:
        cls = module.AsyncAnthropic if is_async else module.Anthropic
        base_url = "http://gateway.test:4000"
    return cls(api_key="sk-test", base_url=base_url, max_retries=1, http_client=api.http_client(is_async=is_async))


def _check_available(family: Family, style: str, client: Any) -> None:
    if _path(client, family.resource) is None:
        pytest.skip(f"{family.sdk} {_version(family.sdk)} has no client.{'.'.join(family.resource)}")
    if style == "helper" and _helper(family, client) is None:
        pytest.skip(f"{family.sdk} {_version(family.sdk)} has no {family.name} .stream() helper")


def _helper(family: Family, client: Any) -> Any:
    for path in family.helpers:
        stream = getattr(_path(client, path), "stream", None)
        if stream is not None:
            return stream
    return None


async def _call(family: Family, style: str, client: Any) -> Any:
    """Make the call in ``style`` and read it to the end, as an app would; returns what the app saw."""
    resource = _path(client, family.resource)
    kwargs = dict(family.kwargs)
    if style in STREAMED:
        kwargs.update(family.stream_kwargs)
    async with contextlib.AsyncExitStack() as stack:
        if style == "plain":
            return _seen(await _resolve(resource.create(**kwargs)))
        if style == "stream":
            return await _drain(await _resolve(resource.create(**kwargs, stream=True)))
        if style == "helper":
            stream = await _enter(stack, _helper(family, client)(**kwargs))
            events = await _drain(stream)
            return events, _seen(await _resolve(getattr(stream, family.final)()))
        if style.startswith("raw"):
            streamed = style == "raw-stream"
            raw = await _resolve(resource.with_raw_response.create(**kwargs, **({"stream": True} if streamed else {})))
            parsed = await _resolve(raw.parse())
            return type(raw).__qualname__, await _drain(parsed) if streamed else _seen(parsed)
        streamed = style == "streaming-response-stream"
        manager = resource.with_streaming_response.create(**kwargs, **({"stream": True} if streamed else {}))
        response = await _enter(stack, manager)
        parsed = await _resolve(response.parse())
        return type(response).__qualname__, await _drain(parsed) if streamed else _seen(parsed)
    raise AssertionError(style)


def _run_sync(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (the sync clients' path) without an event loop, so the call stays sync:
    with a sync client, every ``_resolve``/``_drain``/``_enter`` above takes its non-awaiting branch."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise AssertionError("the sync path awaited something")


def _version(sdk: str) -> str:
    return str(importlib.import_module(sdk).__version__)


# --- the matrix ---


@pytest.fixture(autouse=True)
def _no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    """The OTel SDK warns when a span is ended twice; that must never happen."""
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


async def _baseline_and_traced(family: Family, style: str, is_async: bool, telemetry: Any) -> tuple[Any, Any, Any]:
    pytest.importorskip(family.sdk, reason=f"{family.sdk} is not installed")
    hx = transport_of(family.sdk)
    expect = family.streamed if style in STREAMED and family.streamed is not None else family.plain
    # One retried attempt per call: the retry loop differs between releases, and each attempt needs the context.
    plain_api, traced_api = FakeAPI(hx, expect.reply(), failures=1), FakeAPI(hx, expect.reply(), failures=1)

    aigw_trace.uninstrument()
    client = _client(family.sdk, plain_api, is_async=is_async)
    _check_available(family, style, client)
    baseline = await _call(family, style, client)
    assert telemetry.spans() == []

    telemetry.instrument()
    seen = await _call(family, style, _client(family.sdk, traced_api, is_async=is_async))
    return baseline, seen, (plain_api, traced_api, expect)


def _assert_traced(telemetry: Any, plain_api: FakeAPI, api: FakeAPI, expect: Expect) -> None:
    genai = telemetry.genai_spans()
    assert len(genai) == 1, [(s.name, s.instrumentation_scope.name) for s in genai]
    span = genai[0]
    assert [s for s in telemetry.spans() if s.instrumentation_scope.name == "aigw_trace"] == [span]
    assert span.kind is SpanKind.CLIENT
    assert span.end_time is not None
    attrs = span.attributes
    assert attrs[A.USAGE_INPUT_TOKENS] == expect.input_tokens
    if expect.output_tokens is None:
        assert A.USAGE_OUTPUT_TOKENS not in attrs
    else:
        assert attrs[A.USAGE_OUTPUT_TOKENS] == expect.output_tokens
    assert attrs[A.RESPONSE_MODEL] == expect.model

    ctx = span.get_span_context()
    assert len(api.requests) == len(plain_api.requests) == 2
    for request in api.requests:
        version, trace_id, parent_id, flags = request.headers["traceparent"].split("-")
        assert (version, trace_id, parent_id) == ("00", f"{ctx.trace_id:032x}", f"{ctx.span_id:016x}")
        assert bool(int(flags, 16) & 0x01)
    # Instrumentation changes nothing else about the request, and the body is released as without it.
    assert [(r.method, str(r.url), json.loads(r.content)) for r in api.requests] == [
        (r.method, str(r.url), json.loads(r.content)) for r in plain_api.requests
    ]
    assert api.bodies_closed == plain_api.bodies_closed


@pytest.mark.parametrize(("family", "style"), _cases())
def test_sync(family: Family, style: str, aigw_telemetry: Any) -> None:
    baseline, seen, (plain_api, api, expect) = _run_sync(_baseline_and_traced(family, style, False, aigw_telemetry))
    assert seen == baseline
    _assert_traced(aigw_telemetry, plain_api, api, expect)


@pytest.mark.parametrize(("family", "style"), _cases())
async def test_async(family: Family, style: str, aigw_telemetry: Any) -> None:
    baseline, seen, (plain_api, api, expect) = await _baseline_and_traced(family, style, True, aigw_telemetry)
    assert seen == baseline
    _assert_traced(aigw_telemetry, plain_api, api, expect)
