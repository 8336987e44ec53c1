"""OpenAI chat completions through the real SDK: attributes, metrics, errors, odd bodies, content, raw wrappers."""

from __future__ import annotations

import json
from typing import Any

import openai
import pydantic
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace import _attributes as A
from tests.canned import completion, sse
from tests.conftest import Reply, ids, parent_of

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ping"}]


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024",
            "choices": choices, **extra}  # fmt: skip


def stream_chunks(n: int = 3, usage: bool = True) -> list[bytes]:
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": f"t{i}"}) for i in range(n)]
    events.append(chunk({}, finish="stop"))
    if usage:
        events.append(chunk(None, usage={"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 7 + n}))
    return sse(events)


def test_plain_call_records_the_conventions(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client()

    result = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, temperature=0.2, top_p=0.9, max_completion_tokens=50, seed=7,
        stop=["END"], frequency_penalty=0.1, presence_penalty=0.3, n=2, service_tier="flex",
        response_format={"type": "json_object"}, reasoning_effort="low",
    )  # fmt: skip

    assert isinstance(result, openai.types.chat.ChatCompletion)
    span = aigw_telemetry.span()
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: "gpt-4o",
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        A.OPENAI_API_TYPE: "chat_completions",
        A.REQUEST_TEMPERATURE: 0.2,
        A.REQUEST_TOP_P: 0.9,
        A.REQUEST_MAX_TOKENS: 50,
        A.REQUEST_SEED: 7,
        A.REQUEST_STOP_SEQUENCES: ("END",),
        A.REQUEST_FREQUENCY_PENALTY: 0.1,
        A.REQUEST_PRESENCE_PENALTY: 0.3,
        A.REQUEST_CHOICE_COUNT: 2,
        A.OPENAI_REQUEST_SERVICE_TIER: "flex",
        A.OUTPUT_TYPE: "json",
        A.REQUEST_REASONING_LEVEL: "low",
        A.RESPONSE_ID: "chatcmpl-1",
        A.RESPONSE_MODEL: "gpt-4o-2024-08-06",
        A.OPENAI_RESPONSE_SERVICE_TIER: "default",
        A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_abc",
        A.RESPONSE_FINISH_REASONS: ("stop",),
        A.USAGE_INPUT_TOKENS: 11,
        A.USAGE_OUTPUT_TOKENS: 3,
        A.USAGE_CACHE_READ_INPUT_TOKENS: 4,
        A.USAGE_REASONING_OUTPUT_TOKENS: 2,
    }


def test_defaults_are_left_out_and_auto_service_tier_is_not_recorded(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, n=1, service_tier="auto")
    attrs = aigw_telemetry.span().attributes
    assert A.REQUEST_CHOICE_COUNT not in attrs
    assert A.OPENAI_REQUEST_SERVICE_TIER not in attrs
    assert A.REQUEST_STREAM not in attrs
    assert A.REQUEST_REASONING_LEVEL not in attrs


def test_extra_body_parameters_are_what_is_sent_and_recorded(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, extra_body={"temperature": 1.5})
    assert fake_api.body()["temperature"] == 1.5
    assert aigw_telemetry.span().attributes[A.REQUEST_TEMPERATURE] == 1.5


def test_metrics_use_the_advised_buckets_and_attributes(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)

    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.count == 1
    assert tuple(duration.explicit_bounds) == A.DURATION_BUCKETS
    assert dict(duration.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: "gpt-4o",
        A.RESPONSE_MODEL: "gpt-4o-2024-08-06",
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        # openai.md: OpenAI's metrics also carry the response's service tier and system fingerprint.
        A.OPENAI_RESPONSE_SERVICE_TIER: "default",
        A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_abc",
    }
    tokens = {p.attributes[A.TOKEN_TYPE]: p for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert {k: v for k, v in tokens["input"].attributes.items() if k != A.TOKEN_TYPE} == dict(duration.attributes)
    assert tokens["input"].sum == 11
    assert tokens["output"].sum == 3
    assert tuple(tokens["input"].explicit_bounds) == A.TOKEN_BUCKETS
    assert A.ERROR_TYPE not in tokens["input"].attributes
    assert aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK) == []


async def test_async_client_records_the_same_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client(is_async=True)
    await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = aigw_telemetry.span()
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 11
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_parse_records_the_call(aigw_telemetry, fake_api, openai_client):
    class Answer(pydantic.BaseModel):
        word: str

    content = json.dumps({"word": "pong"})
    body = completion(choices=[{"index": 0, "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop"}])  # fmt: skip
    fake_api.reply(Reply(json=body))
    parsed = openai_client().chat.completions.parse(model="gpt-4o", messages=MESSAGES, response_format=Answer)
    assert parsed.choices[0].message.parsed == Answer(word="pong")
    span = aigw_telemetry.span()
    assert span.attributes[A.OUTPUT_TYPE] == "json"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("stop",)


@pytest.mark.parametrize("late", ["older", "newer"])
def test_request_keys_that_share_an_attribute_resolve_whatever_their_order(aigw_telemetry, fake_api, openai_client,
                                                                           late):  # fmt: skip
    # The SDK writes its keyword arguments in its own order and `extra_body` after them: putting one spelling in
    # each gives both orders. The newer max-token spelling and an explicit response format win either way.
    older: dict[str, Any] = {"max_tokens": 10, "modalities": ["text", "audio"]}
    newer: dict[str, Any] = {"max_completion_tokens": 50, "response_format": {"type": "text"}}
    keywords, extra = (newer, older) if late == "older" else (older, newer)
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, **keywords, extra_body=extra)
    sent = list(json.loads(fake_api.requests[-1].content))
    assert sent.index(next(iter(extra))) > sent.index(next(iter(keywords)))  # the order really differs
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.REQUEST_MAX_TOKENS] == 50
    assert attrs[A.OUTPUT_TYPE] == "text"


def test_audio_modality_alone_means_speech(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, modalities=["text", "audio"], n=2,
                                            service_tier="auto")  # fmt: skip
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.OUTPUT_TYPE] == "speech"
    assert attrs[A.REQUEST_CHOICE_COUNT] == 2
    assert A.OPENAI_REQUEST_SERVICE_TIER not in attrs  # "auto" is no choice at all


@pytest.mark.parametrize("where", ["on the finishing chunk", "on every chunk"])
def test_stream_usage_where_gateways_put_it(aigw_telemetry, fake_api, openai_client, where):
    # No separate usage chunk: some gateways report usage on the chunk that finishes, some (vLLM's continuous
    # usage) on every chunk, running totals.
    events = [chunk({"content": f"t{i}"}, usage={"prompt_tokens": 7, "completion_tokens": i + 1, "total_tokens": 8 + i})
              if where == "on every chunk" else chunk({"content": f"t{i}"}) for i in range(3)]  # fmt: skip
    events.append(chunk({}, finish="length", usage={"prompt_tokens": 7, "completion_tokens": 4, "total_tokens": 11}))
    fake_api.reply(Reply(chunks=sse(events)))
    list(openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    attrs = aigw_telemetry.span().attributes
    assert (attrs[A.USAGE_INPUT_TOKENS], attrs[A.USAGE_OUTPUT_TOKENS]) == (7, 4)
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("length",)


# --- errors ---


def test_http_error_sets_error_type_status_and_metric(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=429, json={"error": {"message": "slow down", "type": "rate_limit"}}))
    with pytest.raises(openai.RateLimitError):
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "RateLimitError"
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == 429
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.ERROR_TYPE] == "RateLimitError"
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []


def test_connection_error_is_recorded_and_reraised_unchanged(aigw_telemetry, fake_api, openai_client):
    import httpx2

    fake_api.reply(Reply(raise_error=httpx2.ConnectError("refused")))
    with pytest.raises(openai.APIConnectionError):
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = aigw_telemetry.span()
    assert span.attributes[A.ERROR_TYPE] == "APIConnectionError"
    assert span.status.status_code is StatusCode.ERROR


def test_retries_stay_inside_one_span_and_each_attempt_carries_it(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(
        Reply(status=503, json={"error": {"message": "busy"}}, headers={"retry-after-ms": "1"}),
        Reply(status=429, json={"error": {"message": "busy"}}, headers={"retry-after-ms": "1"}),
        Reply(json=completion()),
    )
    openai_client(max_retries=2).chat.completions.create(model="gpt-4o", messages=MESSAGES)

    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.UNSET
    assert len(fake_api.requests) == 3
    parents = {parent_of(h)[:2] for h in fake_api.headers}
    assert parents == {ids(span)}
    assert [h["x-stainless-retry-count"] for h in fake_api.headers] == ["0", "1", "2"]


@pytest.mark.parametrize(
    "body",
    [
        {"choices": None, "error": {"message": "upstream failed", "type": "upstream_error"}},
        {"id": "x", "choices": [{"index": 0, "message": None, "finish_reason": None}], "usage": None},
        {"id": "x", "model": 42, "choices": "nonsense", "usage": {"prompt_tokens": "many"}},
        {},
    ],
)
def test_odd_gateway_bodies_never_raise(aigw_telemetry, fake_api, openai_client, body):
    fake_api.reply(Reply(json=body))
    result = openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert result is not None
    span = aigw_telemetry.span()
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert A.RESPONSE_MODEL not in span.attributes


def test_error_object_in_a_200_body_marks_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"choices": None, "error": {"message": "boom", "type": "upstream_error"}}))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "upstream_error"


# --- raw wrappers ---


def test_with_raw_response_records_without_the_caller_parsing(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    raw = openai_client().chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    span = aigw_telemetry.span()  # ended already: the body was read by the SDK
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert raw.parse().choices[0].message.content == "pong"


def test_with_streaming_response_ends_when_the_caller_is_done(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=[json.dumps(completion()).encode()], headers={"content-type": "application/json"}))
    client = openai_client()
    with client.chat.completions.with_streaming_response.create(model="gpt-4o", messages=MESSAGES) as response:
        assert aigw_telemetry.genai_spans() == []
        assert response.parse().id == "chatcmpl-1"
    span = aigw_telemetry.span()
    assert span.attributes[A.RESPONSE_ID] == "chatcmpl-1"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 11


def test_with_raw_response_stream_observes_the_parsed_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    client = openai_client()
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    assert len(list(stream)) == 6
    span = aigw_telemetry.span()
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"


# --- content capture ---

TOOLS = [{"type": "function", "function": {"name": "lookup", "description": "Find a thing",
                                           "parameters": {"type": "object"}}}]  # fmt: skip


def tool_call_completion() -> dict[str, Any]:
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}]}  # fmt: skip
    return completion(choices=[{"index": 0, "message": message, "finish_reason": "tool_calls"}])


def test_no_content_by_default(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, tools=TOOLS)
    attrs = aigw_telemetry.span().attributes
    for key in (A.INPUT_MESSAGES, A.OUTPUT_MESSAGES, A.SYSTEM_INSTRUCTIONS, A.TOOL_DEFINITIONS):
        assert key not in attrs
    assert aigw_telemetry.logs() == []
    assert "sk-test-secret" not in repr(dict(attrs))


@pytest.mark.aigw_options(capture_content="span_only")
def test_span_content_follows_the_part_schema(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=tool_call_completion()))
    messages = [
        *MESSAGES,
        {"role": "assistant", "tool_calls": [
            {"id": "call_0", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": "42"},
    ]  # fmt: skip
    openai_client().chat.completions.create(model="gpt-4o", messages=messages, tools=TOOLS)

    attrs = aigw_telemetry.span().attributes
    assert json.loads(attrs[A.INPUT_MESSAGES]) == [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "ping"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_0", "name": "lookup", "arguments": {}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_0", "response": "42"}]},
    ]
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup", "arguments": {"q": "x"}}],
            "finish_reason": "tool_calls",
        }
    ]
    assert json.loads(attrs[A.TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "lookup", "description": "Find a thing"}
    ]
    assert A.SYSTEM_INSTRUCTIONS not in attrs  # chat system prompts are part of the history
    assert aigw_telemetry.logs() == []


@pytest.mark.aigw_options(capture_content="event_only")
def test_event_content_is_structured_and_off_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)

    span = aigw_telemetry.span()
    assert A.INPUT_MESSAGES not in span.attributes
    (record,) = aigw_telemetry.logs(A.EVENT_INFERENCE_DETAILS)
    attrs = record.log_record.attributes
    # The SDK stores lists as tuples; the structure is the conventions' schema, not a JSON string.
    assert attrs[A.INPUT_MESSAGES][1] == {"role": "user", "parts": ({"type": "text", "content": "ping"},)}
    assert attrs[A.OUTPUT_MESSAGES] == (
        {"role": "assistant", "parts": ({"type": "text", "content": "pong"},), "finish_reason": "stop"},
    )
    assert attrs[A.USAGE_INPUT_TOKENS] == 11
    assert attrs[A.PROVIDER_NAME] == "openai"
    assert format(record.log_record.span_id, "016x") == ids(span)[1]


@pytest.mark.aigw_options(capture_content="span_only")
def test_streamed_content_is_assembled_once(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    stream = openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    for _ in stream:
        pass
    out = json.loads(aigw_telemetry.span().attributes[A.OUTPUT_MESSAGES])
    assert out == [{"role": "assistant", "parts": [{"type": "text", "content": "t0t1t2"}], "finish_reason": "stop"}]


@pytest.mark.aigw_options(capture_content="span_only", content_max_length=300)
def test_content_is_bounded_and_stays_valid_json(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    long = [{"role": "user", "content": "x" * 5000}, {"role": "user", "content": "last"}]
    openai_client().chat.completions.create(model="gpt-4o", messages=long)
    text = aigw_telemetry.span().attributes[A.INPUT_MESSAGES]
    assert len(text) <= 300
    messages = json.loads(text)
    assert messages[-1]["parts"][0]["content"] == "last"
