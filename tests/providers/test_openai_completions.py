"""Legacy OpenAI completions through the real SDK: the text_completion span, its stream and its content."""

from __future__ import annotations

import json
import logging
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import Reply, ids, parent_of

MODEL = "gpt-3.5-turbo-instruct"


@pytest.fixture(autouse=True)
def _no_double_end(caplog: pytest.LogCaptureFixture) -> Any:
    caplog.set_level(logging.WARNING)
    yield
    assert not [r for r in caplog.records if "already ended" in r.getMessage()]


def completion(**overrides: Any) -> dict[str, Any]:
    body = {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "gpt-3.5-turbo-instruct-0914",
        "choices": [{"index": 0, "text": " world", "finish_reason": "length", "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        "system_fingerprint": "fp_1",
    }
    body.update(overrides)
    return body


def chunks(texts: list[str], usage: bool = True) -> list[bytes]:
    def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "text": text, "finish_reason": finish, "logprobs": None}
        return {
            "id": "cmpl-s",
            "object": "text_completion",
            "created": 1,
            "model": "instruct-0914",
            "choices": [choice],
        }

    events = [chunk(t) for t in texts] + [chunk("", "stop")]
    if usage:
        events.append({"id": "cmpl-s", "object": "text_completion", "created": 1, "model": "instruct-0914",
                       "choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": len(texts),
                                                "total_tokens": 4 + len(texts)}})  # fmt: skip
    return sse(events)


def only_span(telemetry: Any) -> Any:
    spans = telemetry.genai_spans()
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def test_create_records_the_conventions(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    result = openai_client().completions.create(
        model=MODEL, prompt="hello", max_tokens=2, temperature=0.5, top_p=0.9, n=2, stop="\n", seed=3,
        frequency_penalty=0.1, presence_penalty=0.2,
    )  # fmt: skip

    assert isinstance(result, openai.types.Completion)
    span = only_span(aigw_telemetry)
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        A.OPERATION_NAME: "text_completion",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: MODEL,
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        A.REQUEST_MAX_TOKENS: 2,
        A.REQUEST_TEMPERATURE: 0.5,
        A.REQUEST_TOP_P: 0.9,
        A.REQUEST_CHOICE_COUNT: 2,
        A.REQUEST_STOP_SEQUENCES: ("\n",),
        A.REQUEST_SEED: 3,
        A.REQUEST_FREQUENCY_PENALTY: 0.1,
        A.REQUEST_PRESENCE_PENALTY: 0.2,
        A.RESPONSE_ID: "cmpl-1",
        A.RESPONSE_MODEL: "gpt-3.5-turbo-instruct-0914",
        A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_1",
        A.RESPONSE_FINISH_REASONS: ("length",),
        A.USAGE_INPUT_TOKENS: 5,
        A.USAGE_OUTPUT_TOKENS: 2,
    }
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_metrics(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().completions.create(model=MODEL, prompt="hello")
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.OPERATION_NAME] == "text_completion"
    assert duration.attributes[A.RESPONSE_MODEL] == "gpt-3.5-turbo-instruct-0914"
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 5, "output": 2}


def test_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=chunks(["a", "b", "c"])))
    stream = openai_client().completions.create(
        model=MODEL, prompt="hello", stream=True, stream_options={"include_usage": True}
    )
    assert isinstance(stream, openai.Stream)
    assert "".join(c.choices[0].text for c in stream if c.choices) == "abc"
    span = only_span(aigw_telemetry)
    attrs = span.attributes
    assert span.name == "text_completion gpt-3.5-turbo-instruct"
    assert attrs[A.REQUEST_STREAM] is True
    assert attrs[A.RESPONSE_ID] == "cmpl-s"
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[A.USAGE_INPUT_TOKENS] == 4
    assert attrs[A.USAGE_OUTPUT_TOKENS] == 3
    assert attrs[A.AIGW_STREAM_OUTCOME] == "completed"
    assert A.RESPONSE_TIME_TO_FIRST_CHUNK in attrs
    (ttfc,) = aigw_telemetry.metric_points(A.METRIC_TIME_TO_FIRST_CHUNK)
    assert ttfc.attributes[A.OPERATION_NAME] == "text_completion"
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_stream_closed_early(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=chunks(["a", "b", "c"])))
    with openai_client().completions.create(model=MODEL, prompt="hello", stream=True) as stream:
        next(iter(stream))
    span = only_span(aigw_telemetry)
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "closed"
    assert A.RESPONSE_FINISH_REASONS not in span.attributes
    assert fake_api.bodies_closed == [True]


def test_stream_error_mid_way(aigw_telemetry, fake_api, openai_client):
    frames = chunks(["a"], usage=False)[:1] + sse([{"error": {"message": "died", "type": "server_error"}}])
    fake_api.reply(Reply(chunks=frames))
    with pytest.raises(openai.APIError):
        list(openai_client().completions.create(model=MODEL, prompt="hello", stream=True))
    span = only_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "error"


async def test_async_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=chunks(["a", "b"])))
    stream = await openai_client(is_async=True).completions.create(
        model=MODEL, prompt="hello", stream=True, stream_options={"include_usage": True}
    )
    assert len([c async for c in stream]) == 4
    span = only_span(aigw_telemetry)
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 2
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_with_raw_response(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    raw = openai_client().completions.with_raw_response.create(model=MODEL, prompt="hello")
    assert only_span(aigw_telemetry).attributes[A.USAGE_OUTPUT_TOKENS] == 2
    assert raw.parse().choices[0].text == " world"


def test_with_raw_response_stream(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=chunks(["a", "b"])))
    raw = openai_client().completions.with_raw_response.create(model=MODEL, prompt="hello", stream=True)
    assert len(list(raw.parse())) == 4
    span = only_span(aigw_telemetry)
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 2
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"


@pytest.mark.parametrize(
    "body",
    [{}, {"choices": None, "usage": None}, {"choices": [{"text": 3, "finish_reason": 4}], "usage": {"x": 1}}],
)
def test_odd_gateway_bodies_never_raise(aigw_telemetry, fake_api, openai_client, body):
    fake_api.reply(Reply(json=body))
    assert openai_client().completions.create(model=MODEL, prompt="hello") is not None
    span = only_span(aigw_telemetry)
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert A.RESPONSE_FINISH_REASONS not in span.attributes


@pytest.mark.aigw_options(capture_content="span_only")
def test_content(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    openai_client().completions.create(model=MODEL, prompt=["hello", "bye"])
    attrs = only_span(aigw_telemetry).attributes
    assert json.loads(attrs[A.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "hello"}]},
        {"role": "user", "parts": [{"type": "text", "content": "bye"}]},
    ]
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": " world"}], "finish_reason": "length"}
    ]


@pytest.mark.aigw_options(capture_content="span_only")
def test_streamed_content(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(chunks=chunks(["a", "b"])))
    list(openai_client().completions.create(model=MODEL, prompt=[[1, 2, 3]], stream=True))
    attrs = only_span(aigw_telemetry).attributes
    assert A.INPUT_MESSAGES not in attrs  # token ids are not text
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "ab"}], "finish_reason": "stop"}
    ]


@pytest.mark.parametrize("capture", ["no_content", "span_only"])
@pytest.mark.parametrize("odd_index", [None, "0", 1.5], ids=["missing", "string", "float"])
def test_a_chunk_with_an_odd_index_costs_no_attribute(aigw_telemetry, fake_api, openai_client, capture, odd_index):
    """A gateway's last chunk without a usable ``index``: the span still says what every chunk said."""
    aigw_telemetry.instrument(capture_content=capture)
    good = {"index": 0, "text": "a", "finish_reason": None, "logprobs": None}
    odd = {"text": "b", "finish_reason": "stop", "logprobs": None}
    if odd_index is not None:
        odd["index"] = odd_index
    common = {"id": "cmpl-odd", "object": "text_completion", "created": 1, "model": "instruct-0914"}
    fake_api.reply(Reply(chunks=sse([{**common, "choices": [good]}, {**common, "choices": [odd]}])))
    got = [c.choices[0].text for c in openai_client().completions.create(model=MODEL, prompt="x", stream=True)]
    assert got == ["a", "b"]
    attrs = only_span(aigw_telemetry).attributes
    assert attrs[A.RESPONSE_ID] == "cmpl-odd"
    assert attrs[A.RESPONSE_MODEL] == "instruct-0914"
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    if capture == "span_only":
        (message,) = json.loads(attrs[A.OUTPUT_MESSAGES])
        assert message["parts"] == [{"type": "text", "content": "ab"}]
