"""anthropic streams: every way a caller finishes with one ends the one span once, with what the events said."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Callable
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode

from aigw_trace import _attributes as A
from tests.conftest import FakeAPI, Reply
from tests.providers.test_anthropic import (
    MESSAGES,
    MODEL,
    assert_parent,
    make_client,
    message,
    message_events,
    stream_reply,
    the_span,
)

KW: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES}


@pytest.fixture(autouse=True)
def _no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    """The OTel SDK warns when a span is ended twice; that must never happen."""
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


@pytest.fixture(params=[True, False], ids=["native-on", "native-off"])
def client_factory(request: pytest.FixtureRequest, fake_api: FakeAPI, aigw_telemetry: Any) -> Callable[..., Any]:
    def make(**kwargs: Any) -> Any:
        return make_client(fake_api, aigw_telemetry, native=request.param, **kwargs)

    return make


def test_exhausted_stream_assembles_usage_from_start_and_delta(aigw_telemetry, fake_api, client_factory):
    # message_delta repeats the input side only when it changed: here the cache write grew, the rest stands.
    events = message_events(delta_usage={"output_tokens": 3, "cache_creation_input_tokens": 4})
    fake_api.reply(stream_reply(events))
    stream = client_factory().messages.create(**KW, stream=True)
    assert isinstance(stream, anthropic.Stream)
    assert type(stream).__name__ == "Stream"
    assert aigw_telemetry.spans() == []  # not before the caller has read it
    assert [e.type for e in stream] == ["message_start", "content_block_start", *["content_block_delta"] * 3,
                                        "content_block_stop", "message_delta", "message_stop"]  # fmt: skip

    span = the_span(aigw_telemetry)
    attrs = span.attributes
    assert span.name == f"chat {MODEL}"
    assert attrs[A.REQUEST_STREAM] is True
    assert attrs[A.RESPONSE_ID] == "msg_s"
    assert attrs[A.RESPONSE_MODEL] == "claude-sonnet-4-5-20250929"
    assert attrs[A.USAGE_INPUT_TOKENS] == 14  # 7 + 3 read + 4 written
    assert attrs[A.USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attrs[A.USAGE_CACHE_CREATION_INPUT_TOKENS] == 4
    assert attrs[A.USAGE_OUTPUT_TOKENS] == 3
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert attrs[A.AIGW_STREAM_OUTCOME] == "completed"
    assert 0 < attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert span.status.status_code is StatusCode.UNSET
    (ttfc,) = aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.sum == pytest.approx(attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK])
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 14, "output": 3}
    assert_parent(fake_api.headers[0], span)
    assert fake_api.bodies_closed == [True]


def test_stream_cut_before_message_delta_reports_only_what_is_known(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events(end=False)))
    assert len(list(client_factory().messages.create(**KW, stream=True))) == 6
    attrs = the_span(aigw_telemetry).attributes
    assert attrs[A.USAGE_INPUT_TOKENS] == 10
    assert A.USAGE_OUTPUT_TOKENS not in attrs  # message_start's output count is a placeholder
    assert A.RESPONSE_FINISH_REASONS not in attrs


def test_error_event_marks_the_span(aigw_telemetry, fake_api, client_factory):
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    fake_api.reply(stream_reply([*message_events(end=False)[:3], error]))
    stream = client_factory().messages.create(**KW, stream=True)
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        for _ in stream:
            pass
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    # The SDK raises its generic status error for an ``error`` event: the HTTP status was 200.
    assert span.attributes[A.ERROR_TYPE] == "APIStatusError"
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 10


def test_break_and_close(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    stream = client_factory().messages.create(**KW, stream=True)
    for _ in stream:
        break
    assert aigw_telemetry.spans() == []
    stream.close()
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert span.status.status_code is StatusCode.UNSET
    assert fake_api.bodies_closed == [True]


def test_leaving_with_block_early(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    with client_factory().messages.create(**KW, stream=True) as stream:
        next(iter(stream))
    assert the_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


def test_caller_exception_is_not_the_calls_failure(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))

    def read_then_fail() -> None:
        with client_factory().messages.stream(**KW) as stream:
            next(iter(stream))
            raise KeyError("caller bug")

    with pytest.raises(KeyError):
        read_then_fail()
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert span.status.status_code is StatusCode.UNSET


def test_dropped_stream_ends_at_garbage_collection(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    stream = client_factory().messages.create(**KW, stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert the_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] in ("closed", "abandoned")


def test_never_iterated_stream_ends_when_dropped(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    client_factory().messages.create(**KW, stream=True)
    gc.collect()
    assert the_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "abandoned"


# --- the messages.stream() helper: the request leaves in __enter__ ---


def test_stream_helper_read_to_the_end(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    manager = client_factory().messages.stream(**KW)
    assert fake_api.requests == []
    with manager as stream:
        assert len(fake_api.requests) == 1
        assert stream.get_final_text() == "t0t1t2"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 3
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.REQUEST_STREAM] is True
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert_parent(fake_api.headers[0], span)


def test_stream_helper_exit_before_the_end(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    with client_factory().messages.stream(**KW) as stream:
        for _text in stream.text_stream:
            break
        assert aigw_telemetry.spans() == []
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert_parent(fake_api.headers[0], span)


def test_beta_stream_helper(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    with client_factory().beta.messages.stream(**KW) as stream:
        stream.until_done()
    span = the_span(aigw_telemetry)
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 10
    assert_parent(fake_api.headers[0], span)


def test_raw_stream_is_observed_once_parsed(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    raw = client_factory().messages.with_raw_response.create(**KW, stream=True)
    assert len(list(raw.parse())) == 8
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3


@pytest.mark.aigw_options(time_per_output_chunk=True)
def test_time_per_output_chunk_is_opt_in(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    list(client_factory().messages.create(**KW, stream=True))
    (point,) = aigw_telemetry.metric_points(A.METRIC_TIME_PER_OUTPUT_CHUNK)
    assert point.count == 7  # 8 events, one value for each after the first


# --- async ---


async def test_async_exhausted_stream(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    stream = await client_factory(is_async=True).messages.create(**KW, stream=True)
    assert isinstance(stream, anthropic.AsyncStream)
    assert len([e async for e in stream]) == 8
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert_parent(fake_api.headers[0], span)


async def test_async_stream_helper(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    async with client_factory(is_async=True).messages.stream(**KW) as stream:
        assert await stream.get_final_text() == "t0t1t2"
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert_parent(fake_api.headers[0], span)


async def test_async_stream_helper_exit_early(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    async with client_factory(is_async=True).messages.stream(**KW) as stream:
        async for _event in stream:
            break
    assert the_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


async def test_async_error_event(aigw_telemetry, fake_api, client_factory):
    error = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    fake_api.reply(stream_reply([*message_events(end=False)[:2], error]))
    stream = await client_factory(is_async=True).messages.create(**KW, stream=True)
    with pytest.raises(anthropic.APIStatusError):
        async for _ in stream:
            pass
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


async def test_task_cancelled_while_reading(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events()))
    client = client_factory(is_async=True)
    started = asyncio.Event()

    async def consume() -> None:
        async with client.messages.stream(**KW) as stream:
            async for _ in stream:
                started.set()
                await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    await asyncio.wait([task])
    assert task.cancelled()
    span = the_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("native", [True, False], ids=["native-on", "native-off"])
async def test_task_cancelled_before_the_response(aigw_telemetry, native):
    class Silent:
        async def async_handler(self, request: Any) -> Any:
            await asyncio.Event().wait()

    client = make_client(Silent(), aigw_telemetry, native=native, is_async=True)  # type: ignore[arg-type]
    task = asyncio.create_task(client.messages.create(**KW, stream=True))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert A.ERROR_TYPE not in span.attributes


# --- content ---


@pytest.mark.aigw_options(capture_content="span_only")
def test_streamed_content_is_assembled_once(aigw_telemetry, fake_api, client_factory):
    events = message_events(("I will ", "look"), stop="tool_use")
    blocks = [
        {"type": "content_block_start", "index": 1, "content_block": {"type": "thinking", "thinking": "",
                                                                      "signature": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "signature_delta", "signature": "sig"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_1",
                                                                      "name": "lookup", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"q": '}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '"x"}'}},
        {"type": "content_block_stop", "index": 2},
    ]  # fmt: skip
    fake_api.reply(stream_reply([*events[:5], *blocks, *events[5:]]))
    with client_factory().messages.stream(**KW) as stream:
        final = stream.get_final_message()
    assert final.content[2].input == {"q": "x"}
    out = json.loads(the_span(aigw_telemetry).attributes[A.OUTPUT_MESSAGES])
    assert out == [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": "I will look"},
                {"type": "reasoning", "content": "hmm"},
                {"type": "tool_call", "id": "toolu_1", "name": "lookup", "arguments": {"q": "x"}},
            ],
            "finish_reason": "tool_use",
        }
    ]


@pytest.mark.aigw_options(capture_content="span_only")
def test_content_of_a_cut_stream_has_no_finish_reason(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(stream_reply(message_events(end=False)))
    list(client_factory().messages.create(**KW, stream=True))
    (out,) = json.loads(the_span(aigw_telemetry).attributes[A.OUTPUT_MESSAGES])
    assert out["finish_reason"] == "error"
    assert out["parts"] == [{"type": "text", "content": "t0t1t2"}]


def test_plain_message_reply_to_a_stream_request_is_not_misread(aigw_telemetry, fake_api, client_factory):
    """A gateway that ignores ``stream`` and answers JSON: the SDK yields nothing, the span still ends once."""
    fake_api.reply(Reply(json=message()))
    assert list(client_factory().messages.create(**KW, stream=True)) == []
    assert the_span(aigw_telemetry).attributes[A.REQUEST_STREAM] is True
