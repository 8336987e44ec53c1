"""OpenAI embeddings through the real SDK: the embeddings span, its metrics and the injected parent."""

from __future__ import annotations

import base64
import struct
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace import _attributes as A
from tests.conftest import Reply, ids, parent_of

MODEL = "text-embedding-3-small"


def embedding_body(vector: Any, *, count: int = 1, **overrides: Any) -> dict[str, Any]:
    body = {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(count)],
        "model": "text-embedding-3-small-v2",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }
    body.update(overrides)
    return body


def packed(values: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()


def test_create_records_the_conventions(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=embedding_body([0.1, 0.2, 0.3], count=2)))
    result = openai_client().embeddings.create(model=MODEL, input=["a", "b"], dimensions=3, encoding_format="float")

    assert len(result.data) == 2
    span = aigw_telemetry.span()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        A.OPERATION_NAME: "embeddings",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: MODEL,
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        A.REQUEST_ENCODING_FORMATS: ("float",),
        A.EMBEDDINGS_DIMENSION_COUNT: 3,
        A.RESPONSE_MODEL: "text-embedding-3-small-v2",
        A.USAGE_INPUT_TOKENS: 8,
    }
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_metrics_have_input_tokens_only(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=embedding_body([0.5, 0.5])))
    openai_client().embeddings.create(model=MODEL, input="a", encoding_format="float")

    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == {
        A.OPERATION_NAME: "embeddings",
        A.PROVIDER_NAME: "openai",
        A.REQUEST_MODEL: MODEL,
        A.RESPONSE_MODEL: "text-embedding-3-small-v2",
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
    }
    (tokens,) = aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)
    assert tokens.attributes[A.TOKEN_TYPE] == "input"
    assert tokens.sum == 8
    assert A.USAGE_OUTPUT_TOKENS not in aigw_telemetry.span().attributes


def test_default_format_is_what_the_sdk_sends(aigw_telemetry, fake_api, openai_client):
    # Without encoding_format the SDK asks for base64 and decodes it; the span says what went over the wire and
    # the dimension count comes from the vectors returned.
    fake_api.reply(Reply(json=embedding_body(packed([0.25] * 5))))
    result = openai_client().embeddings.create(model=MODEL, input="a")
    assert result.data[0].embedding == [0.25] * 5
    assert fake_api.body()["encoding_format"] == "base64"
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.REQUEST_ENCODING_FORMATS] == ("base64",)
    assert attrs[A.EMBEDDINGS_DIMENSION_COUNT] == 5


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7, 1536])
def test_raw_response_counts_base64_dimensions(aigw_telemetry, fake_api, openai_client, size):
    fake_api.reply(Reply(json=embedding_body(packed([1.0] * size))))
    raw = openai_client().embeddings.with_raw_response.create(model=MODEL, input="a")
    assert aigw_telemetry.span().attributes[A.EMBEDDINGS_DIMENSION_COUNT] == size
    assert len(raw.parse().data[0].embedding) == size


async def test_async(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=embedding_body([0.1, 0.2])))
    await openai_client(is_async=True).embeddings.create(model=MODEL, input="a", encoding_format="float")
    span = aigw_telemetry.span()
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 8
    trace_id, parent, _ = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_with_streaming_response(aigw_telemetry, fake_api, openai_client):
    import json

    body = json.dumps(embedding_body([0.1, 0.2, 0.3, 0.4])).encode()
    fake_api.reply(Reply(chunks=[body], headers={"content-type": "application/json"}))
    client = openai_client()
    with client.embeddings.with_streaming_response.create(model=MODEL, input="a", encoding_format="float") as r:
        assert aigw_telemetry.genai_spans() == []
        assert len(r.parse().data[0].embedding) == 4
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.EMBEDDINGS_DIMENSION_COUNT] == 4
    assert attrs[A.USAGE_INPUT_TOKENS] == 8


def test_http_error(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=429, json={"error": {"message": "slow down"}}))
    with pytest.raises(openai.RateLimitError):
        openai_client().embeddings.create(model=MODEL, input="a")
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "RateLimitError"
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.ERROR_TYPE] == "RateLimitError"
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None, "usage": None},
        {"data": [], "model": 3, "usage": {"prompt_tokens": "x"}},
        {"data": [{"embedding": None}], "usage": {}},
        {"data": [{"embedding": "%%not-base64"}]},
        {"data": "oops", "error": {"message": "boom", "type": "upstream_error"}},
    ],
)
def test_odd_gateway_bodies_never_raise(aigw_telemetry, fake_api, openai_client, body):
    fake_api.reply(Reply(json=body))
    openai_client().embeddings.with_raw_response.create(model=MODEL, input="a", encoding_format="float")
    span = aigw_telemetry.span()
    assert A.USAGE_INPUT_TOKENS not in span.attributes
    assert A.RESPONSE_MODEL not in span.attributes


def test_error_object_in_a_200_body_marks_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"data": [], "error": {"message": "boom", "type": "upstream_error"}}))
    openai_client().embeddings.create(model=MODEL, input="a", encoding_format="float")
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "upstream_error"


@pytest.mark.aigw_options(capture_content="span_and_event")
def test_no_content_attributes_even_when_capturing(aigw_telemetry, fake_api, openai_client):
    # The conventions define no content attributes for embeddings; inputs never leave the process.
    fake_api.reply(Reply(json=embedding_body([0.1])))
    openai_client().embeddings.create(model=MODEL, input="private text", encoding_format="float")
    attrs = aigw_telemetry.span().attributes
    assert A.INPUT_MESSAGES not in attrs
    assert "private text" not in repr(dict(attrs))
