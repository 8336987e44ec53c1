"""OpenAI Responses API through the real SDK: create/parse/retrieve, the event stream and every way it ends."""

from __future__ import annotations

import gc
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx2
import openai
import pydantic
import pytest
from openai.types.responses import ResponseStreamEvent
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace import _attributes as A
from aigw_trace._providers.openai import RESPONSES, ResponsesStream
from tests.canned import sse
from tests.conftest import FakeAPI, Reply, ids, parent_of

MODEL = "gpt-4.1"


@pytest.fixture(autouse=True)
def _no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    """The OTel SDK warns when a span is ended twice; that must never happen."""
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


def message_item(text: str = "pong", status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}] if text else []
    return {"type": "message", "id": "msg_1", "role": "assistant", "status": status, "content": content}


def response_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1.0,
        "model": "gpt-4.1-2025-04-14",
        "status": "completed",
        "output": [message_item()],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "service_tier": "default",
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 2},
            "output_tokens": 6,
            "output_tokens_details": {"reasoning_tokens": 3},
            "total_tokens": 18,
        },
    }
    body.update(overrides)
    return body


def events(final: dict[str, Any] | None = None, *, final_type: str = "response.completed") -> list[dict[str, Any]]:
    """A coherent event sequence, as the API sends it: created, one message streamed in two deltas, a final event."""
    started = response_body(status="in_progress", output=[], usage=None)
    text = {"item_id": "msg_1", "output_index": 0, "content_index": 0, "logprobs": []}
    seq = [
        {"type": "response.created", "response": started},
        {"type": "response.in_progress", "response": started},
        {"type": "response.output_item.added", "output_index": 0, "item": message_item("", "in_progress")},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "delta": "po", **text},
        {"type": "response.output_text.delta", "delta": "ng", **text},
        {"type": "response.output_text.done", "text": "pong", **text},
        {"type": "response.output_item.done", "output_index": 0, "item": message_item()},
        {"type": final_type, "response": final if final is not None else response_body()},
    ]  # fmt: skip
    return [{**event, "sequence_number": i} for i, event in enumerate(seq)]


def frames(seq: list[dict[str, Any]]) -> list[bytes]:
    return sse(seq, named=True, done=False)


def only_span(telemetry: Any) -> Any:
    spans = telemetry.genai_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def assert_parent(api: FakeAPI, span: Any, index: int = 0) -> None:
    trace_id, parent, sampled = parent_of(api.headers[index])
    assert (trace_id, parent) == ids(span)
    assert sampled is span.get_span_context().trace_flags.sampled


# --- create / parse / retrieve ---


def test_create_records_the_conventions(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    result = openai_client().responses.create(
        model=MODEL, input="ping", instructions="be brief", temperature=0.3, top_p=0.8, max_output_tokens=99,
        service_tier="flex", conversation="conv_7", previous_response_id="resp_0",
        text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
        reasoning={"effort": "high", "summary": "auto"},
    )  # fmt: skip

    assert isinstance(result, openai.types.responses.Response)
    span = only_span(aigw_telemetry)
    assert span.name == "chat gpt-4.1"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: MODEL,
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        A.OPENAI_API_TYPE: "responses",
        A.REQUEST_TEMPERATURE: 0.3,
        A.REQUEST_TOP_P: 0.8,
        A.REQUEST_MAX_TOKENS: 99,
        A.OPENAI_REQUEST_SERVICE_TIER: "flex",
        A.CONVERSATION_ID: "conv_7",
        A.REQUEST_PREVIOUS_RESPONSE_ID: "resp_0",
        A.OUTPUT_TYPE: "json",
        A.REQUEST_REASONING_LEVEL: "high",
        A.RESPONSE_ID: "resp_1",
        A.RESPONSE_MODEL: "gpt-4.1-2025-04-14",
        A.OPENAI_RESPONSE_SERVICE_TIER: "default",
        A.RESPONSE_FINISH_REASONS: ("stop",),
        A.USAGE_INPUT_TOKENS: 12,
        A.USAGE_OUTPUT_TOKENS: 6,
        A.USAGE_CACHE_READ_INPUT_TOKENS: 4,
        A.USAGE_CACHE_CREATION_INPUT_TOKENS: 2,
        A.USAGE_REASONING_OUTPUT_TOKENS: 3,
    }
    assert_parent(fake_api, span)


def test_metrics(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().responses.create(model=MODEL, input="ping")

    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: MODEL,
        A.RESPONSE_MODEL: "gpt-4.1-2025-04-14",
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        # The response's service tier, as on OpenAI's metrics; a Responses body has no system fingerprint, and a
        # value the response did not give is left out rather than recorded empty.
        A.OPENAI_RESPONSE_SERVICE_TIER: "default",
    }
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 12, "output": 6}
    assert aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK) == []


def test_conversation_object_and_defaults(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().responses.create(
        model=MODEL, input="ping", conversation={"id": "conv_9"}, service_tier="auto", reasoning={"summary": "auto"}
    )
    attrs = only_span(aigw_telemetry).attributes
    assert attrs[A.CONVERSATION_ID] == "conv_9"
    absent_keys = (A.OPENAI_REQUEST_SERVICE_TIER, A.REQUEST_STREAM, A.REQUEST_PREVIOUS_RESPONSE_ID, A.OUTPUT_TYPE,
                   A.REQUEST_REASONING_LEVEL)  # fmt: skip
    for absent in absent_keys:
        assert absent not in attrs


FUNCTION_CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
                 "arguments": '{"q": "x"}', "status": "completed"}  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"output": [FUNCTION_CALL]}, ("tool_call",)),
        ({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}, ("length",)),
        ({"status": "incomplete", "incomplete_details": {"reason": "content_filter"}}, ("content_filter",)),
        ({"status": "cancelled"}, ("error",)),
        ({"status": "queued", "output": [], "usage": None}, None),
    ],
)
def test_status_becomes_finish_reasons(aigw_telemetry, fake_api, openai_client, overrides, reasons):
    fake_api.reply(Reply(json=response_body(**overrides)))
    openai_client().responses.create(model=MODEL, input="ping")
    span = only_span(aigw_telemetry)
    assert span.attributes.get(A.RESPONSE_FINISH_REASONS) == reasons
    assert span.status.status_code is StatusCode.UNSET


def test_failed_response_is_an_error(aigw_telemetry, fake_api, openai_client):
    failed = response_body(status="failed", error={"code": "server_error", "message": "boom"}, usage=None)
    fake_api.reply(Reply(json=failed))
    result = openai_client().responses.create(model=MODEL, input="ping")
    assert result.status == "failed"  # the SDK does not raise: the span still says what happened
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "server_error"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("error",)
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.ERROR_TYPE] == "server_error"


def test_http_error(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=400, json={"error": {"message": "bad", "type": "invalid_request_error"}}))
    with pytest.raises(openai.BadRequestError):
        openai_client().responses.create(model=MODEL, input="ping")
    span = only_span(aigw_telemetry)
    assert span.attributes[A.ERROR_TYPE] == "BadRequestError"
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == 400
    assert_parent(fake_api, span)


async def test_async_create(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    await openai_client(is_async=True).responses.create(model=MODEL, input="ping")
    span = only_span(aigw_telemetry)
    assert span.name == "chat gpt-4.1"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert_parent(fake_api, span)


def test_parse(aigw_telemetry, fake_api, openai_client):
    class Answer(pydantic.BaseModel):
        word: str

    body = response_body(output=[message_item(json.dumps({"word": "pong"}))])
    fake_api.reply(Reply(json=body))
    parsed = openai_client().responses.parse(model=MODEL, input="ping", text_format=Answer)
    assert parsed.output_parsed == Answer(word="pong")
    span = only_span(aigw_telemetry)
    assert span.name == "chat gpt-4.1"
    assert span.attributes[A.OUTPUT_TYPE] == "json"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 6


def test_beta_responses_path_is_the_same_operation(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().beta.responses.create(model=MODEL, input="ping")
    assert fake_api.requests[0].url.params.get("beta") == "true"
    span = only_span(aigw_telemetry)
    assert span.name == "chat gpt-4.1"
    assert span.attributes[A.OPENAI_API_TYPE] == "responses"


def test_retrieve_is_fetch_response_without_tokens(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().responses.retrieve("resp_1")
    span = only_span(aigw_telemetry)
    assert span.name == "fetch_response"  # never the id: it is in the URL only
    assert span.attributes[A.OPERATION_NAME] == A.OPERATION_FETCH_RESPONSE
    assert span.attributes[A.OPENAI_API_TYPE] == "responses"
    assert span.attributes[A.RESPONSE_ID] == "resp_1"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert A.REQUEST_MODEL not in span.attributes
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.OPERATION_NAME] == "fetch_response"
    assert_parent(fake_api, span)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": 5, "model": None, "status": 3, "output": "nonsense", "usage": {"input_tokens": "many"}},
        {"status": "completed", "output": [None, 7, {"type": None}], "usage": None},
        {"status": "incomplete", "incomplete_details": None},
    ],
)
def test_odd_gateway_bodies_never_raise(aigw_telemetry, fake_api, openai_client, body):
    fake_api.reply(Reply(json=body))
    assert openai_client().responses.create(model=MODEL, input="ping") is not None
    span = only_span(aigw_telemetry)
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert A.RESPONSE_ID not in span.attributes


def test_odd_output_items_do_not_lose_the_rest(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body(output=[{"type": ["odd"]}, {"type": {"k": 1}}, None])))
    openai_client().responses.create(model=MODEL, input="ping")
    attrs = only_span(aigw_telemetry).attributes
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[A.USAGE_INPUT_TOKENS] == 12


def test_error_object_in_a_200_body_marks_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"error": {"message": "upstream", "type": "upstream_error"}}))
    openai_client().responses.create(model=MODEL, input="ping")
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "upstream_error"


# --- streams ---


def test_stream_records_ttfc_usage_and_finish(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    stream = openai_client().responses.create(model=MODEL, input="ping", stream=True)
    assert isinstance(stream, openai.Stream)
    assert aigw_telemetry.genai_spans() == []
    kinds = [event.type for event in stream]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"

    span = only_span(aigw_telemetry)
    attrs = span.attributes
    assert span.name == "chat gpt-4.1"
    assert attrs[A.REQUEST_STREAM] is True
    assert attrs[A.RESPONSE_ID] == "resp_1"
    assert attrs[A.RESPONSE_MODEL] == "gpt-4.1-2025-04-14"
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[A.USAGE_INPUT_TOKENS] == 12
    assert attrs[A.USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert attrs[A.USAGE_REASONING_OUTPUT_TOKENS] == 3
    assert attrs[A.AIGW_STREAM_OUTCOME] == "completed"
    assert 0 < attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK] < (span.end_time - span.start_time) / 1e9
    assert span.status.status_code is StatusCode.UNSET
    (ttfc,) = aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.attributes[A.OPERATION_NAME] == "chat"
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 12, "output": 6}
    assert fake_api.bodies_closed == [True]
    assert_parent(fake_api, span)


def test_response_failed_event_is_an_error_without_an_exception(aigw_telemetry, fake_api, openai_client):
    failed = response_body(status="failed", error={"code": "rate_limit_exceeded", "message": "slow"}, usage=None)
    fake_api.reply(Reply(chunks=frames(events(failed, final_type="response.failed"))))
    kinds = [e.type for e in openai_client().responses.create(model=MODEL, input="ping", stream=True)]
    assert kinds[-1] == "response.failed"
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "rate_limit_exceeded"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("error",)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.ERROR_TYPE] == "rate_limit_exceeded"


def test_error_event_is_an_error(aigw_telemetry, fake_api, openai_client):
    error = {"type": "error", "code": "server_error", "message": "died", "param": None, "sequence_number": 5}
    seq = [*events()[:5], error]
    fake_api.reply(Reply(chunks=frames(seq)))
    list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "server_error"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("error",)
    assert A.USAGE_INPUT_TOKENS not in span.attributes


def test_error_event_without_code_is_other(aigw_telemetry, fake_api, openai_client):
    seq = [*events()[:2], {"type": "error", "message": "died", "sequence_number": 2}]
    fake_api.reply(Reply(chunks=frames(seq)))
    list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    assert only_span(aigw_telemetry).attributes[A.ERROR_TYPE] == A.ERROR_TYPE_OTHER


def test_incomplete_event(aigw_telemetry, fake_api, openai_client):
    incomplete = response_body(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    fake_api.reply(Reply(chunks=frames(events(incomplete, final_type="response.incomplete"))))
    list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    span = only_span(aigw_telemetry)
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("length",)
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 6
    assert span.status.status_code is StatusCode.UNSET


def test_gateway_error_object_mid_stream_raises_and_is_recorded(aigw_telemetry, fake_api, openai_client):
    gateway_error = {"error": {"message": "upstream died", "type": "server_error"}}
    fake_api.reply(Reply(chunks=frames(events()[:3]) + sse([gateway_error], done=False)))
    with pytest.raises(openai.APIError, match="upstream died"):
        list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    span = only_span(aigw_telemetry)
    assert span.attributes[A.ERROR_TYPE] == "APIError"
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


class _BrokenBody(httpx2.SyncByteStream):
    """A body that fails after its first frames, like a dropped connection."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks
        raise httpx2.ReadError("connection reset")

    def close(self) -> None:
        pass


def test_connection_lost_mid_stream(aigw_telemetry, openai_client):
    def handler(request: httpx2.Request) -> httpx2.Response:
        body = _BrokenBody(frames(events()[:4]))
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=body)

    client = openai.OpenAI(api_key="test", base_url="http://gateway.test:4000/v1", max_retries=0,
                           http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))  # fmt: skip
    with pytest.raises(openai.APIConnectionError):
        list(client.responses.create(model=MODEL, input="ping", stream=True))
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "APIConnectionError"
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


def test_break_and_close_ends_as_closed(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    stream = openai_client().responses.create(model=MODEL, input="ping", stream=True)
    for _ in stream:
        break
    assert aigw_telemetry.genai_spans() == []
    stream.close()
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert A.RESPONSE_FINISH_REASONS not in span.attributes
    assert A.RESPONSE_TIME_TO_FIRST_CHUNK in span.attributes
    assert span.status.status_code is StatusCode.UNSET


def test_leaving_a_with_block_early(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    with openai_client().responses.create(model=MODEL, input="ping", stream=True) as stream:
        next(iter(stream))
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert fake_api.bodies_closed == [True]


def test_dropped_stream_ends_at_garbage_collection(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    stream = openai_client().responses.create(model=MODEL, input="ping", stream=True)
    next(iter(stream))
    del stream
    gc.collect()
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] in ("closed", "abandoned")


def test_stream_helper_read_to_the_end(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    with openai_client().responses.stream(model=MODEL, input="ping") as stream:
        final = stream.get_final_response()
    assert final.output_text == "pong"
    span = only_span(aigw_telemetry)
    assert span.name == "chat gpt-4.1"
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 6
    assert_parent(fake_api, span)


def test_stream_helper_early_exit(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    with openai_client().responses.stream(model=MODEL, input="ping") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                break
        assert aigw_telemetry.genai_spans() == []
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert_parent(fake_api, span)


def test_stream_helper_resuming_a_response_is_fetch_response(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    with openai_client().responses.stream(response_id="resp_1") as stream:
        final = stream.get_final_response()
    assert final.id == "resp_1"
    assert fake_api.requests[0].method == "GET"
    span = only_span(aigw_telemetry)
    assert span.name == "fetch_response"
    assert span.attributes[A.REQUEST_STREAM] is True
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []


async def test_async_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    stream = await openai_client(is_async=True).responses.create(model=MODEL, input="ping", stream=True)
    assert isinstance(stream, openai.AsyncStream)
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    span = only_span(aigw_telemetry)
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert_parent(fake_api, span)


async def test_async_stream_helper_early_exit(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    async with openai_client(is_async=True).responses.stream(model=MODEL, input="ping") as stream:
        async for _event in stream:
            break
        assert aigw_telemetry.genai_spans() == []
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert_parent(fake_api, span)


async def test_async_stream_helper_read_to_the_end(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    async with openai_client(is_async=True).responses.stream(model=MODEL, input="ping") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "pong"
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "completed"


def test_odd_events_never_raise(aigw_telemetry, fake_api, openai_client, caplog):
    seq = [
        {"type": "response.created", "sequence_number": 0},  # no response object
        {"type": "response.something_new", "sequence_number": 1, "payload": [1, 2]},
        {"type": "response.completed", "sequence_number": 2, "response": {"status": 9, "usage": "lots"}},
        {"type": ["not", "a", "string"], "sequence_number": 3},
    ]
    fake_api.reply(Reply(chunks=sse(seq, done=False) + sse([{"sequence_number": 4}], done=False)))
    assert len(list(openai_client().responses.create(model=MODEL, input="ping", stream=True))) == 5
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert not [r for r in caplog.records if r.name == "aigw_trace"]


# --- raw wrappers ---


def test_with_raw_response(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    raw = openai_client().responses.with_raw_response.create(model=MODEL, input="ping")
    span = only_span(aigw_telemetry)
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert raw.parse().output_text == "pong"


def test_with_streaming_response(aigw_telemetry, fake_api, openai_client):
    body = json.dumps(response_body()).encode()
    fake_api.reply(Reply(chunks=[body], headers={"content-type": "application/json"}))
    with openai_client().responses.with_streaming_response.create(model=MODEL, input="ping") as response:
        assert aigw_telemetry.genai_spans() == []
        assert response.parse().id == "resp_1"
    span = only_span(aigw_telemetry)
    assert span.attributes[A.RESPONSE_ID] == "resp_1"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 6


def test_with_raw_response_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    raw = openai_client().responses.with_raw_response.create(model=MODEL, input="ping", stream=True)
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert len(list(stream)) == 9
    span = only_span(aigw_telemetry)
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 6
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"


def test_with_streaming_response_stream_closed_unread(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    with openai_client().responses.with_streaming_response.create(model=MODEL, input="ping", stream=True):
        pass
    assert only_span(aigw_telemetry).attributes[A.AIGW_STREAM_OUTCOME] == "closed"


# --- content (opt-in) ---

INPUT: list[dict[str, Any]] = [
    {"role": "developer", "content": "answer in French"},
    {"role": "user", "content": [
        {"type": "input_text", "text": "what is this?"},
        {"type": "input_image", "image_url": "https://img.test/cat.png", "detail": "auto"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
        {"type": "input_file", "file_id": "file-1"},
    ]},
    FUNCTION_CALL,
    {"type": "function_call_output", "call_id": "call_1", "output": "42"},
    {"type": "item_reference", "id": "msg_0"},
]  # fmt: skip

TOOLS = [
    {"type": "function", "name": "lookup", "description": "Find a thing", "parameters": {"type": "object"},
     "strict": True},
    {"type": "web_search"},
]  # fmt: skip

RICH_OUTPUT = [
    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "thinking"}]},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
    message_item("voilà"),
    FUNCTION_CALL,
]


@pytest.mark.aigw_options(capture_content="span_only")
def test_content_follows_the_part_schema(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body(output=RICH_OUTPUT)))
    openai_client().responses.create(model=MODEL, input=INPUT, instructions="be brief", tools=TOOLS)

    attrs = only_span(aigw_telemetry).attributes
    assert json.loads(attrs[A.SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(attrs[A.INPUT_MESSAGES]) == [
        {"role": "developer", "parts": [{"type": "text", "content": "answer in French"}]},
        {"role": "user", "parts": [
            {"type": "text", "content": "what is this?"},
            {"type": "uri", "modality": "image", "uri": "https://img.test/cat.png"},
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "AAAA"},
            {"type": "file", "modality": "file", "file_id": "file-1"},
        ]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup",
                                         "arguments": {"q": "x"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "42"}]},
    ]  # fmt: skip
    assert json.loads(attrs[A.TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "lookup", "description": "Find a thing"},
        {"type": "web_search", "name": "web_search"},
    ]
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "thinking"},
                {"type": "server_tool_call", "id": "ws_1", "name": "web_search",
                 "server_tool_call": {"type": "web_search_call"}},
                {"type": "text", "content": "voilà"},
                {"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "x"}},
            ],
            "finish_reason": "tool_call",
        }
    ]  # fmt: skip


def test_no_content_by_default(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().responses.create(model=MODEL, input=INPUT, instructions="secret prompt", tools=TOOLS)
    attrs = only_span(aigw_telemetry).attributes
    for key in (A.INPUT_MESSAGES, A.OUTPUT_MESSAGES, A.SYSTEM_INSTRUCTIONS, A.TOOL_DEFINITIONS):
        assert key not in attrs
    assert "secret prompt" not in repr(dict(attrs))


@pytest.mark.aigw_options(capture_content="span_only")
def test_streamed_content_comes_from_the_final_event(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events())))
    list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    attrs = only_span(aigw_telemetry).attributes
    assert json.loads(attrs[A.INPUT_MESSAGES]) == [{"role": "user", "parts": [{"type": "text", "content": "ping"}]}]
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "pong"}], "finish_reason": "stop"}
    ]


@pytest.mark.aigw_options(capture_content="span_only")
def test_stream_cut_short_keeps_the_finished_items(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=frames(events()[:-1])))  # the connection ends before response.completed
    list(openai_client().responses.create(model=MODEL, input="ping", stream=True))
    span = only_span(aigw_telemetry)
    assert json.loads(span.attributes[A.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "pong"}], "finish_reason": "error"}
    ]
    assert A.RESPONSE_FINISH_REASONS not in span.attributes


@pytest.mark.aigw_options(capture_content="span_only")
def test_odd_content_never_costs_the_other_attributes(aigw_telemetry, fake_api, openai_client):
    odd_output = [{"type": "reasoning", "summary": 5}, {"type": "message", "content": 7}, {"type": 3}, "x"]
    fake_api.reply(Reply(json=response_body(output=odd_output)))
    odd_input: Any = [{"type": "function_call_output"}, {"role": "user", "content": None}, 5]
    openai_client().responses.create(model=MODEL, input=odd_input, tools=5, instructions=["not", "text"])
    attrs = only_span(aigw_telemetry).attributes
    assert attrs[A.USAGE_INPUT_TOKENS] == 12
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert A.SYSTEM_INSTRUCTIONS not in attrs


@pytest.mark.aigw_options(capture_content="event_only")
def test_event_content(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().responses.create(model=MODEL, input="ping", instructions="be brief")
    span = only_span(aigw_telemetry)
    assert A.INPUT_MESSAGES not in span.attributes
    (record,) = aigw_telemetry.logs(A.EVENT_INFERENCE_DETAILS)
    attrs = record.log_record.attributes
    assert attrs[A.SYSTEM_INSTRUCTIONS] == ({"type": "text", "content": "be brief"},)
    assert attrs[A.OUTPUT_MESSAGES][0]["parts"] == ({"type": "text", "content": "pong"},)
    assert attrs[A.OPENAI_API_TYPE] == "responses"


# --- cost ---


def test_folding_reads_only_the_whole_response_events():
    """Per event the fold reads its type and, for the events that carry the whole response, that response; what it
    costs per event is measured by the benchmarks (``nox -s bench-instructions``), not timed here."""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    parsed = [adapter.validate_python(e) for e in events()]
    acc = ResponsesStream(capture=False, carried=RESPONSES.carried)
    for event in parsed:
        acc.add(event)
    summary = acc.result()
    assert summary["usage"].input_tokens == 12
    assert (summary["id"], summary["model"], summary["status"]) == ("resp_1", "gpt-4.1-2025-04-14", "completed")
    assert acc._items == []  # nothing assembled while content is not captured
