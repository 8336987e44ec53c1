"""Every way a caller can finish with a stream ends the span exactly once, with the right outcome.

Driven through real OpenAI clients with bodies that stay open like network ones (see ``conftest.Reply``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import StatusCode

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import Reply, ids, parent_of
from tests.providers.test_openai_chat import MESSAGES, chunk, stream_chunks

STREAM_KW: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES, "stream": True,
                             "stream_options": {"include_usage": True}}  # fmt: skip


@pytest.fixture(autouse=True)
def _no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    """The OTel SDK warns when a span is ended twice; that must never happen."""
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


def only_span(telemetry: Any) -> Any:
    spans = telemetry.genai_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_exhausted_stream_records_usage_ttfc_and_finish(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    stream = openai_client().chat.completions.create(**STREAM_KW)
    assert isinstance(stream, openai.Stream)
    assert type(stream).__name__ == "Stream"
    assert aigw_telemetry.genai_spans() == []  # not before the caller has read it

    contents = [c.choices[0].delta.content for c in stream if c.choices]
    assert contents == ["", "t0", "t1", "t2", "t3", "t4", None]

    span = only_span(aigw_telemetry)
    attrs = span.attributes
    assert attrs[A.REQUEST_STREAM] is True
    assert attrs[A.USAGE_INPUT_TOKENS] == 7
    assert attrs[A.USAGE_OUTPUT_TOKENS] == 5
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[A.RESPONSE_ID] == "chatcmpl-s"
    assert attrs[A.RESPONSE_MODEL] == "gpt-4o-mini-2024"
    assert attrs[A.AIGW_STREAM_OUTCOME] == "completed"
    assert 0 < attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert span.status.status_code is StatusCode.UNSET
    (ttfc,) = aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.sum == pytest.approx(attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK])
    assert tuple(ttfc.explicit_bounds) == A.DURATION_BUCKETS
    assert fake_api.bodies_closed == [True]


def test_stream_without_usage_chunk_records_no_tokens(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(2, usage=False)))
    list(openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert A.USAGE_INPUT_TOKENS not in only_span(aigw_telemetry).attributes
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []


def test_break_and_close_ends_as_closed(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    stream = openai_client().chat.completions.create(**STREAM_KW)
    for _ in stream:
        break
    assert aigw_telemetry.genai_spans() == []
    stream.close()
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert A.RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert fake_api.bodies_closed == [True]


def test_leaving_with_block_early_ends_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    with openai_client().chat.completions.create(**STREAM_KW) as stream:
        assert isinstance(stream, openai.Stream)
        next(iter(stream))
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


def test_caller_exception_inside_with_block_ends_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))

    def read_then_fail() -> None:
        with openai_client().chat.completions.create(**STREAM_KW) as stream:
            next(iter(stream))
            raise KeyError("caller bug")

    with pytest.raises(KeyError):
        read_then_fail()
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert span.status.status_code is StatusCode.UNSET  # the caller's bug is not the call's failure


def test_error_event_mid_stream_marks_error(aigw_telemetry, fake_api, openai_client):
    frames = sse([chunk({"content": "a"}), {"error": {"message": "upstream died", "type": "server_error"}}])
    fake_api.reply(Reply(chunks=frames))
    stream = openai_client().chat.completions.create(**STREAM_KW)
    with pytest.raises(openai.APIError, match="upstream died"):
        for _ in stream:
            pass
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "APIError"
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


def test_stream_cut_before_the_end_is_not_completed_silently(aigw_telemetry, fake_api, openai_client):
    # The connection ends after two chunks: no finish reason, no [DONE].
    fake_api.reply(Reply(chunks=sse([chunk({"content": "a"}), chunk({"content": "b"})], done=False)))
    assert len(list(openai_client().chat.completions.create(**STREAM_KW))) == 2
    span = only_span(aigw_telemetry)
    assert A.RESPONSE_FINISH_REASONS not in span.attributes


def test_dropped_stream_ends_at_garbage_collection(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    stream = openai_client().chat.completions.create(**STREAM_KW)
    next(iter(stream))
    del stream
    gc.collect()
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] in ("closed", "abandoned")


def test_never_iterated_stream_ends_when_dropped(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    openai_client().chat.completions.create(**STREAM_KW)
    gc.collect()
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "abandoned"


def test_no_context_is_held_across_yields(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("outer") as outer:
        for _ in openai_client().chat.completions.create(**STREAM_KW):
            assert trace.get_current_span() is outer
    genai = only_span(aigw_telemetry)
    assert genai.parent.span_id == outer.get_span_context().span_id


def test_stream_helper_exit_ends_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    client = openai_client()
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        for _event in stream:
            break
        assert aigw_telemetry.genai_spans() == []
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_stream_helper_read_to_the_end(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    client = openai_client()
    with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}) as s:
        final = s.get_final_completion()
    assert final.choices[0].message.content == "t0t1t2"
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3


@pytest.mark.aigw_options(time_per_output_chunk=True)
def test_time_per_output_chunk_is_opt_in(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(4)))
    list(openai_client().chat.completions.create(**STREAM_KW))
    (point,) = aigw_telemetry.metric_points(A.METRIC_TIME_PER_OUTPUT_CHUNK)
    assert point.count == 6  # 7 chunks, one value for each after the first
    # Recorded in the call's context: exemplars name the stream's span, not the caller's (here: none current).
    span_context = only_span(aigw_telemetry).get_span_context()
    assert point.exemplars
    assert {(e.trace_id, e.span_id) for e in point.exemplars} == {(span_context.trace_id, span_context.span_id)}


def test_time_per_output_chunk_is_off_by_default(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(4)))
    list(openai_client().chat.completions.create(**STREAM_KW))
    assert aigw_telemetry.metric_points(A.METRIC_TIME_PER_OUTPUT_CHUNK) == []


def _failing_add_after(n: int) -> Any:
    """A ChatStream.add that works for ``n`` chunks, then raises: our bug, not the caller's."""
    from aigw_trace._providers.openai import ChatStream

    real_add = ChatStream.add
    seen = [0]

    def add(self: Any, chunk: Any) -> None:
        seen[0] += 1
        if seen[0] > n:
            raise RuntimeError("accumulator bug")
        real_add(self, chunk)

    return add


@pytest.mark.parametrize("fail_after", [0, 2])
def test_failing_accumulator_never_breaks_the_stream(aigw_telemetry, fake_api, openai_client, monkeypatch, caplog,
                                                      fail_after):  # fmt: skip
    from aigw_trace import _safety
    from aigw_trace._providers.openai import ChatStream

    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setattr(ChatStream, "add", _failing_add_after(fail_after))
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    contents = [c.choices[0].delta.content for c in openai_client().chat.completions.create(**STREAM_KW) if c.choices]
    assert contents == ["", "t0", "t1", "t2", "t3", "t4", None]  # every chunk reached the caller
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.status.status_code is StatusCode.UNSET
    assert A.USAGE_OUTPUT_TOKENS not in span.attributes  # the usage chunk came after the failure
    (warning,) = [r for r in caplog.records if r.name == "aigw_trace"]  # logged once, not once per chunk
    assert "stream chunk" in warning.getMessage()


async def test_async_failing_accumulator_never_breaks_the_stream(aigw_telemetry, fake_api, openai_client, monkeypatch):
    from aigw_trace._providers.openai import ChatStream

    monkeypatch.setattr(ChatStream, "add", _failing_add_after(2))
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    stream = await openai_client(is_async=True).chat.completions.create(**STREAM_KW)
    contents = [c.choices[0].delta.content async for c in stream if c.choices]
    assert contents == ["", "t0", "t1", "t2", "t3", "t4", None]
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert A.USAGE_OUTPUT_TOKENS not in span.attributes


# --- async ---


async def test_async_exhausted_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    stream = await openai_client(is_async=True).chat.completions.create(**STREAM_KW)
    assert isinstance(stream, openai.AsyncStream)
    assert len([c async for c in stream]) == 6
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3


async def test_async_break_and_close(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    stream = await openai_client(is_async=True).chat.completions.create(**STREAM_KW)
    async for _ in stream:
        break
    await stream.close()
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


async def test_async_with_block(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    async with await openai_client(is_async=True).chat.completions.create(**STREAM_KW) as stream:
        async for _ in stream:
            break
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


async def test_async_error_event(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=sse([chunk({"content": "a"}), {"error": {"message": "boom"}}])))
    stream = await openai_client(is_async=True).chat.completions.create(**STREAM_KW)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


async def test_task_cancelled_while_reading_ends_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    client = openai_client(is_async=True)
    started = asyncio.Event()

    async def consume() -> None:
        stream = await client.chat.completions.create(**STREAM_KW)
        async for _ in stream:
            started.set()
            await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
    del task  # its exception's traceback holds the stream; a real app drops it too
    gc.collect()
    for _ in range(5):  # the loop finalises the abandoned async generators in a few ticks
        await asyncio.sleep(0)
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] in ("closed", "abandoned")
    assert span.status.status_code is StatusCode.UNSET


async def test_task_cancelled_before_the_response_ends_the_span(aigw_telemetry, fake_api, openai_client):
    gate = asyncio.Event()

    async def slow_handler(request: Any) -> Any:
        await gate.wait()
        raise AssertionError("never reached")

    import httpx2

    http_client = httpx2.AsyncClient(transport=httpx2.MockTransport(slow_handler))
    client = openai.AsyncOpenAI(api_key="k", base_url="http://gateway.test/v1", max_retries=0, http_client=http_client)
    task = asyncio.create_task(client.chat.completions.create(**STREAM_KW))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert A.ERROR_TYPE not in span.attributes


async def test_async_stream_helper_exit(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(5)))
    client = openai_client(is_async=True)
    async with client.chat.completions.stream(model="gpt-4o", messages=MESSAGES) as stream:
        async for _event in stream:
            break
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


# --- the SDK's own stream classes, observed without being replaced ---


def test_a_stream_made_outside_any_call_is_left_alone(aigw_telemetry, openai_client):
    import httpx2
    from openai.types.chat import ChatCompletionChunk

    response = httpx2.Response(200, content=b"".join(stream_chunks(3)), request=httpx2.Request("GET", "http://x"))
    stream = openai.Stream(cast_to=ChatCompletionChunk, response=response, client=openai_client())
    assert stream._iterator.__qualname__ == "Stream.__stream__"  # the SDK's own generator, nothing in front
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "t0t1t2"
    assert aigw_telemetry.genai_spans() == []


def test_a_stream_class_extending_the_sdks_is_observed_and_kept(aigw_telemetry, fake_api, openai_client):
    """A subclass whose ``__stream__`` builds on the SDK's (as openai's agent session stream and anthropic's Bedrock
    stream do) is what the caller gets, and its items still reach the call."""
    from openai.types.chat import ChatCompletionChunk

    class Tagged(openai.Stream[ChatCompletionChunk]):
        def __stream__(self) -> Any:
            for item in super().__stream__():
                item.id = "tagged"
                yield item

    fake_api.reply(Reply(chunks=stream_chunks(3)))
    body = {k: v for k, v in STREAM_KW.items() if k != "stream"} | {"stream": True}
    stream = openai_client().post(
        "/chat/completions", body=body, cast_to=ChatCompletionChunk, stream=True, stream_cls=Tagged
    )
    assert type(stream) is Tagged
    assert {chunk.id for chunk in stream} == {"tagged"}
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3


def test_a_dropped_stream_without_a_cycle_ends_at_once(aigw_telemetry, fake_api):
    """anthropic (1.x and later) makes a stream's generator on a copy of it, so a dropped stream is freed at once,
    without the collector: so is its span, and so is its body, as uninstrumented (aigw-trace adds no cycle)."""
    import anthropic
    import httpx2

    from tests.providers.test_anthropic import MESSAGES as CLAUDE_MESSAGES
    from tests.providers.test_anthropic import message_events

    fake_api.reply(Reply(chunks=sse(message_events(), done=False, named=True)))
    http = httpx2.Client(transport=httpx2.MockTransport(fake_api.handler))
    client = anthropic.Anthropic(api_key="k", base_url="http://gateway.test", max_retries=0, http_client=http)
    gc.disable()
    try:
        stream = client.messages.create(model="claude-x", max_tokens=8, messages=CLAUDE_MESSAGES, stream=True)
        next(iter(stream))
        del stream
        assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "abandoned"
        assert fake_api.bodies_closed == [True]
    finally:
        gc.enable()
