"""Both conventions through the real SDK clients: released v1.41 (the default) and the latest GenAI conventions
(``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``), for every endpoint family, span, metrics and content.

Expected names are spelled out here as literal strings, not read from ``aigw_trace._attributes``: a test must fail
if the vocabulary table changes a name.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.trace import StatusCode

import aigw_trace
from aigw_trace import _attributes as A
from aigw_trace._config import latest_genai_conventions
from aigw_trace._content import generic_parts, same_parts
from aigw_trace._providers import providers
from tests.canned import completion, message, sse
from tests.conftest import FakeAPI, Reply

ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
RELEASED_SCHEMA = "https://opentelemetry.io/schemas/1.41.0"
LATEST_SCHEMA = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"

# Released (v1.41) metric names
OP_DURATION = "gen_ai.client.operation.duration"
TOKEN_USAGE = "gen_ai.client.token.usage"
OP_TTFC = "gen_ai.client.operation.time_to_first_chunk"
OP_TPOC = "gen_ai.client.operation.time_per_output_chunk"
# Latest (semantic-conventions-genai main) metric names
INF_DURATION = "gen_ai.client.inference.duration"
INF_TTFC = "gen_ai.client.inference.time_to_first_chunk"
INF_TPOC = "gen_ai.client.inference.time_per_output_chunk"
USAGE_IN = "gen_ai.client.inference.usage.input_tokens"
USAGE_OUT = "gen_ai.client.inference.usage.output_tokens"
USAGE_CACHE_READ = "gen_ai.client.inference.usage.cache_read.input_tokens"
USAGE_CACHE_WRITE = "gen_ai.client.inference.usage.cache_write.input_tokens"
USAGE_REASONING = "gen_ai.client.inference.usage.reasoning.output_tokens"
OPERATION_IN = "gen_ai.client.inference.operation.input_tokens"
OPERATION_OUT = "gen_ai.client.inference.operation.output_tokens"
EMB_DURATION = "gen_ai.client.embeddings.duration"
EMB_IN = "gen_ai.client.embeddings.operation.input_tokens"

CACHE_CREATION_KEY = "gen_ai.usage.cache_creation.input_tokens"
CACHE_WRITE_KEY = "gen_ai.usage.cache_write.input_tokens"
MODALITY = "gen_ai.token.modality"
TOKEN_TYPE = "gen_ai.token.type"
EVENT = "gen_ai.client.inference.operation.details"


# --- the switch ---


@pytest.mark.parametrize(
    ("value", "latest"),
    [
        ("gen_ai_latest_experimental", True),
        ("  gen_ai_latest_experimental\t", True),
        ("http,gen_ai_latest_experimental", True),
        ("http/dup, gen_ai_latest_experimental ,database", True),
        ("gen_ai_latest_experimental,gen_ai_latest_experimental", True),
        (",gen_ai_latest_experimental,", True),
        (None, False),
        ("", False),
        ("   ", False),
        ("http", False),
        ("http/dup,database", False),
        ("GEN_AI_LATEST_EXPERIMENTAL", False),
        ("gen_ai", False),
        ("gen_ai_latest_experimental/dup", False),
        ("gen_ai_latest_experimental;http", False),
        ("gen_ai_latest_experimental http", False),
    ],
)
def test_opt_in_spellings(value, latest, monkeypatch):
    env = {} if value is None else {ENV: value}
    assert latest_genai_conventions(env) is latest
    # The process environment is what instrument() reads.
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    assert latest_genai_conventions() is latest


def test_spellings_agree_with_opentelemetry_instrumentation(monkeypatch):
    semconv = pytest.importorskip("opentelemetry.instrumentation._semconv")
    signal = getattr(semconv._OpenTelemetrySemanticConventionStability, "_OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING", None)
    gen_ai = getattr(semconv._OpenTelemetryStabilitySignalType, "GEN_AI", None)
    if signal is None or gen_ai is None:
        pytest.skip("this opentelemetry-instrumentation has no GenAI opt-in")
    stability = semconv._OpenTelemetrySemanticConventionStability
    saved = (stability._initialized, dict(stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING))
    try:
        for value in ("gen_ai_latest_experimental", " http , gen_ai_latest_experimental ", "http", "",
                      "GEN_AI_LATEST_EXPERIMENTAL", "database,gen_ai_latest_experimental/dup"):  # fmt: skip
            monkeypatch.setenv(ENV, value)
            stability._initialized = False
            mode = semconv._get_semconv_opt_in_modes((gen_ai,))[gen_ai]
            theirs = mode is semconv._StabilityMode.GEN_AI_LATEST_EXPERIMENTAL
            assert latest_genai_conventions() is theirs, value
    finally:
        stability._initialized, stability._OTEL_SEMCONV_STABILITY_SIGNAL_MAPPING = saved[0], saved[1]


# --- fixtures: both conventions, both SDKs ---


@pytest.fixture(params=["released", "latest"])
def conventions(request, monkeypatch, aigw_telemetry) -> str:
    """Instruments with content on span and event and per-chunk timing, under each conventions."""
    if request.param == "latest":
        monkeypatch.setenv(ENV, "http, gen_ai_latest_experimental")
    else:
        monkeypatch.setenv(ENV, "http,database")  # other signals' values leave GenAI at the default
    aigw_telemetry.instrument(capture_content="span_and_event", time_per_output_chunk=True)
    return str(request.param)


def anthropic_client(api: FakeAPI, *, is_async: bool = False) -> Any:
    """A real anthropic client on ``api``, its own tracing off (test_anthropic.py covers it being on)."""
    kwargs: dict[str, Any] = {"api_key": "sk-ant-test", "base_url": "http://gateway.test:4000", "max_retries": 0,
                              "open_telemetry": False}  # fmt: skip
    if is_async:
        transport = httpx2.MockTransport(api.async_handler)
        return anthropic.AsyncAnthropic(http_client=httpx2.AsyncClient(transport=transport), **kwargs)
    return anthropic.Anthropic(http_client=httpx2.Client(transport=httpx2.MockTransport(api.handler)), **kwargs)


def points(telemetry: Any) -> dict[str, list[Any]]:
    """Every metric with data points, by name."""
    return {name: list(m.data.data_points) for name, m in telemetry.metrics().items() if m.data.data_points}


def one(telemetry: Any, name: str) -> Any:
    (point,) = points(telemetry)[name]
    return point


def value(point: Any) -> Any:
    return point.sum if hasattr(point, "sum") else point.value


def by_token_type(telemetry: Any) -> dict[str, Any]:
    return {p.attributes[TOKEN_TYPE]: p for p in points(telemetry)[TOKEN_USAGE]}


def check_scope(telemetry: Any, conventions: str) -> None:
    schema = LATEST_SCHEMA if conventions == "latest" else RELEASED_SCHEMA
    assert telemetry.span().instrumentation_scope.schema_url == schema
    data = telemetry.metric_reader.get_metrics_data()
    scopes = [sm.scope for rm in data.resource_metrics for sm in rm.scope_metrics if sm.scope.name == "aigw_trace"]
    assert scopes
    assert all(scope.schema_url == schema for scope in scopes)


def check_counters(telemetry: Any, expected: dict[str, int], request_model: str) -> None:
    """Latest conventions: each token counter's sum, under modality ``unknown`` and without ``gen_ai.token.type``."""
    counters = {name: ps for name, ps in points(telemetry).items() if name.startswith("gen_ai.client.inference.usage.")}
    got = {name: p for name, (p,) in counters.items()}
    assert {name: p.value for name, p in got.items()} == expected
    for p in got.values():
        assert p.attributes[MODALITY] == "unknown"
        assert TOKEN_TYPE not in p.attributes
        assert "error.type" not in p.attributes
        assert p.attributes["gen_ai.request.model"] == request_model


# --- OpenAI chat ---

CHAT = completion(
    usage={
        "prompt_tokens": 12,
        "completion_tokens": 5,
        "total_tokens": 17,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
)


def test_openai_chat(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=CHAT))
    messages: Any = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "ping"}, {"type": "x_custom", "data": "?"}]},
    ]
    openai_client().chat.completions.create(model="gpt-4o", messages=messages)

    span = aigw_telemetry.span()
    attrs = dict(span.attributes)
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 2
    assert CACHE_CREATION_KEY not in attrs
    assert CACHE_WRITE_KEY not in attrs
    check_scope(aigw_telemetry, conventions)
    # openai.md: OpenAI's metrics carry the response's service tier and system fingerprint, in either set.
    for name, found in points(aigw_telemetry).items():
        for point in found:
            assert point.attributes["openai.response.service_tier"] == "default", name
            assert point.attributes["openai.response.system_fingerprint"] == "fp_abc", name

    # Content: the same signals and JSON form in both; an unknown part type becomes a generic part in the latest.
    custom = {"type": "x_custom"} if conventions == "released" else {"type": "generic", "generic_type": "x_custom"}
    expected_input = [
        {"role": "system", "parts": [{"type": "text", "content": "be brief"}]},
        {"role": "user", "parts": [{"type": "text", "content": "ping"}, custom]},
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == expected_input
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": "pong"}]
    (event,) = aigw_telemetry.logs(EVENT)
    event_attrs = event.log_record.attributes
    assert event_attrs["gen_ai.provider.name"] == "openai"
    assert event_attrs["gen_ai.operation.name"] == "chat"
    assert list(event_attrs["gen_ai.input.messages"][1]["parts"][1].items()) == list(custom.items())
    assert event_attrs["gen_ai.usage.input_tokens"] == 12

    if conventions == "released":
        assert set(points(aigw_telemetry)) == {OP_DURATION, TOKEN_USAGE}
        tokens = by_token_type(aigw_telemetry)
        assert (tokens["input"].sum, tokens["output"].sum) == (12, 5)
        assert one(aigw_telemetry, OP_DURATION).attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    else:
        assert set(points(aigw_telemetry)) == {INF_DURATION, USAGE_IN, USAGE_OUT, USAGE_CACHE_READ, USAGE_REASONING,
                                               OPERATION_IN, OPERATION_OUT}  # fmt: skip
        check_counters(aigw_telemetry, {USAGE_IN: 12, USAGE_OUT: 5, USAGE_CACHE_READ: 4, USAGE_REASONING: 2}, "gpt-4o")
        for name, total in ((OPERATION_IN, 12), (OPERATION_OUT, 5)):
            point = one(aigw_telemetry, name)
            assert (point.count, point.sum) == (1, total)
            assert MODALITY not in point.attributes
            assert TOKEN_TYPE not in point.attributes
            assert list(point.explicit_bounds)[:3] == [1, 4, 16]
        duration = one(aigw_telemetry, INF_DURATION)
        assert duration.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
        assert list(duration.explicit_bounds)[:3] == [0.01, 0.02, 0.04]


def chat_chunks() -> list[bytes]:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-2024-08-06"}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}
        for text in ("a", "b", "c")
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})
    return sse(events)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_openai_chat_stream(conventions, aigw_telemetry, fake_api, openai_client, is_async):
    fake_api.reply(Reply(chunks=chat_chunks()))
    client = openai_client(is_async=is_async)
    kwargs: Any = {"model": "gpt-4o", "messages": [{"role": "user", "content": "ping"}], "stream": True,
                   "stream_options": {"include_usage": True}}  # fmt: skip
    if is_async:
        stream = await client.chat.completions.create(**kwargs)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    else:
        stream = client.chat.completions.create(**kwargs)
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == "abc"
    attrs = dict(aigw_telemetry.span().attributes)
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["gen_ai.response.time_to_first_chunk"] >= 0
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": "abc"}]
    names = set(points(aigw_telemetry))
    if conventions == "released":
        assert names == {OP_DURATION, TOKEN_USAGE, OP_TTFC, OP_TPOC}
    else:
        assert names == {INF_DURATION, INF_TTFC, INF_TPOC, USAGE_IN, USAGE_OUT, OPERATION_IN, OPERATION_OUT}
        check_counters(aigw_telemetry, {USAGE_IN: 9, USAGE_OUT: 3}, "gpt-4o")
        ttfc = one(aigw_telemetry, INF_TTFC)
        assert ttfc.sum == pytest.approx(attrs["gen_ai.response.time_to_first_chunk"])
        assert "error.type" not in ttfc.attributes
        assert one(aigw_telemetry, INF_TPOC).count == 4  # every item after the first, usage chunk included


def test_openai_chat_error(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    with pytest.raises(Exception, match="boom"):
        openai_client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])

    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "InternalServerError"
    if conventions == "released":
        assert set(points(aigw_telemetry)) == {OP_DURATION}
        assert one(aigw_telemetry, OP_DURATION).attributes["error.type"] == "InternalServerError"
    else:
        # Counted even when failed, as 0 under "unknown"; the per-operation distributions leave it out.
        assert set(points(aigw_telemetry)) == {INF_DURATION, USAGE_IN, USAGE_OUT}
        assert one(aigw_telemetry, INF_DURATION).attributes["error.type"] == "InternalServerError"
        check_counters(aigw_telemetry, {USAGE_IN: 0, USAGE_OUT: 0}, "gpt-4o")


# --- OpenAI responses, legacy completions, embeddings, a generic endpoint ---

RESPONSE = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "pong", "annotations": []}],
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 6, "cache_write_tokens": 3},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 27,
    },
}


def test_openai_responses(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=RESPONSE))
    openai_client().responses.create(model="gpt-4.1", input="ping", instructions="be brief")

    attrs = dict(aigw_telemetry.span().attributes)
    if conventions == "released":
        assert attrs[CACHE_CREATION_KEY] == 3
        assert CACHE_WRITE_KEY not in attrs
        assert set(points(aigw_telemetry)) == {OP_DURATION, TOKEN_USAGE}
    else:
        assert attrs[CACHE_WRITE_KEY] == 3
        assert CACHE_CREATION_KEY not in attrs
        check_counters(
            aigw_telemetry,
            {USAGE_IN: 20, USAGE_OUT: 7, USAGE_CACHE_READ: 6, USAGE_CACHE_WRITE: 3, USAGE_REASONING: 1},
            "gpt-4.1",
        )
        assert set(points(aigw_telemetry)) == {INF_DURATION, OPERATION_IN, OPERATION_OUT, USAGE_IN, USAGE_OUT,
                                               USAGE_CACHE_READ, USAGE_CACHE_WRITE, USAGE_REASONING}  # fmt: skip
    assert attrs["gen_ai.usage.input_tokens"] == 20
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "be brief"}]
    (event,) = aigw_telemetry.logs(EVENT)
    event_attrs = event.log_record.attributes
    assert event_attrs["gen_ai.provider.name"] == "openai"
    cache_key = CACHE_WRITE_KEY if conventions == "latest" else CACHE_CREATION_KEY
    assert event_attrs[cache_key] == 3


def test_openai_legacy_completion(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={
        "id": "cmpl-1", "object": "text_completion", "created": 1, "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": "pong", "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
    }))  # fmt: skip
    openai_client().completions.create(model="gpt-3.5-turbo-instruct", prompt="ping")

    assert aigw_telemetry.span().attributes["gen_ai.operation.name"] == "text_completion"
    if conventions == "released":
        assert set(points(aigw_telemetry)) == {OP_DURATION, TOKEN_USAGE}
    else:
        assert set(points(aigw_telemetry)) == {INF_DURATION, USAGE_IN, USAGE_OUT, OPERATION_IN, OPERATION_OUT}
        check_counters(aigw_telemetry, {USAGE_IN: 4, USAGE_OUT: 2}, "gpt-3.5-turbo-instruct")


def test_openai_embeddings(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={
        "object": "list", "model": "text-embedding-3-small-v2",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }))  # fmt: skip
    openai_client().embeddings.create(model="text-embedding-3-small", input="a", encoding_format="float")

    attrs = dict(aigw_telemetry.span().attributes)
    assert attrs["gen_ai.usage.input_tokens"] == 8
    assert not aigw_telemetry.logs(EVENT)  # no content, no inference-details event
    if conventions == "released":
        assert set(points(aigw_telemetry)) == {OP_DURATION, TOKEN_USAGE}
        assert by_token_type(aigw_telemetry)["input"].sum == 8
    else:
        assert set(points(aigw_telemetry)) == {EMB_DURATION, EMB_IN}
        tokens = one(aigw_telemetry, EMB_IN)
        assert (tokens.count, tokens.sum) == (1, 8)
        assert TOKEN_TYPE not in tokens.attributes
        assert MODALITY not in tokens.attributes
        assert one(aigw_telemetry, EMB_DURATION).attributes["gen_ai.operation.name"] == "embeddings"


def test_openai_generic_endpoint_keeps_the_released_instruments(conventions, aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"created": 1, "data": [{"url": "https://img.test/1.png"}],
                               "usage": {"input_tokens": 10, "output_tokens": 40, "total_tokens": 50}}))  # fmt: skip
    openai_client().images.generate(model="gpt-image-1", prompt="a cat")

    assert aigw_telemetry.span().attributes["gen_ai.operation.name"] == "images.generate"
    # The latest conventions define new instruments for inference and embeddings only.
    assert set(points(aigw_telemetry)) == {OP_DURATION, TOKEN_USAGE}
    tokens = by_token_type(aigw_telemetry)
    assert (tokens["input"].sum, tokens["output"].sum) == (10, 40)
    check_scope(aigw_telemetry, conventions)


# --- Anthropic ---

MESSAGE = message(
    usage={"input_tokens": 11, "output_tokens": 3, "cache_read_input_tokens": 5, "cache_creation_input_tokens": 2}
)


def test_anthropic_message(conventions, aigw_telemetry, fake_api):
    fake_api.reply(Reply(json=MESSAGE))
    content: Any = [{"type": "text", "text": "ping"}, {"type": "search_result", "source": "s", "title": "t",
                                                       "content": [{"type": "text", "text": "x"}]}]  # fmt: skip
    anthropic_client(fake_api).messages.create(
        model="claude-test-5", max_tokens=64, system="be brief", messages=[{"role": "user", "content": content}]
    )

    attrs = dict(aigw_telemetry.span().attributes)
    # Cached tokens are added into input tokens under both names of the cache-write count: 11 + 5 + 2.
    assert attrs["gen_ai.usage.input_tokens"] == 18
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 5
    if conventions == "released":
        assert attrs[CACHE_CREATION_KEY] == 2
        assert CACHE_WRITE_KEY not in attrs
        tokens = by_token_type(aigw_telemetry)
        assert (tokens["input"].sum, tokens["output"].sum) == (18, 3)
        custom = {"type": "search_result"}
    else:
        assert attrs[CACHE_WRITE_KEY] == 2
        assert CACHE_CREATION_KEY not in attrs
        check_counters(
            aigw_telemetry, {USAGE_IN: 18, USAGE_OUT: 3, USAGE_CACHE_READ: 5, USAGE_CACHE_WRITE: 2}, "claude-test-5"
        )
        assert one(aigw_telemetry, OPERATION_IN).sum == 18
        custom = {"type": "generic", "generic_type": "search_result"}
    check_scope(aigw_telemetry, conventions)
    parts = json.loads(attrs["gen_ai.input.messages"])[0]["parts"]
    assert parts == [{"type": "text", "content": "ping"}, custom]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [{"type": "text", "content": "be brief"}]
    (event,) = aigw_telemetry.logs(EVENT)
    assert event.log_record.attributes["gen_ai.provider.name"] == "anthropic"
    assert event.log_record.attributes["gen_ai.usage.input_tokens"] == 18


def message_events() -> list[bytes]:
    start = {**MESSAGE, "id": "msg_s", "content": [], "stop_reason": None,
             "usage": {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 3,
                       "cache_creation_input_tokens": 1}}  # fmt: skip
    events: list[Any] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in "ab"),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return sse(events, done=False, named=True)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
async def test_anthropic_stream(conventions, aigw_telemetry, fake_api, is_async):
    fake_api.reply(Reply(chunks=message_events()))
    kwargs: Any = {"model": "claude-test-5", "max_tokens": 64, "messages": [{"role": "user", "content": "ping"}]}
    if is_async:
        async with anthropic_client(fake_api, is_async=True).messages.stream(**kwargs) as stream:
            text = "".join([t async for t in stream.text_stream])
    else:
        with anthropic_client(fake_api).messages.stream(**kwargs) as stream:
            text = "".join(stream.text_stream)

    assert text == "ab"
    attrs = dict(aigw_telemetry.span().attributes)
    assert attrs["gen_ai.usage.input_tokens"] == 11  # 7 + 3 + 1
    cache_key = CACHE_WRITE_KEY if conventions == "latest" else CACHE_CREATION_KEY
    assert attrs[cache_key] == 1
    assert json.loads(attrs["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": "ab"}]
    names = set(points(aigw_telemetry))
    if conventions == "released":
        assert names == {OP_DURATION, TOKEN_USAGE, OP_TTFC, OP_TPOC}
    else:
        assert names == {INF_DURATION, INF_TTFC, INF_TPOC, USAGE_IN, USAGE_OUT, USAGE_CACHE_READ, USAGE_CACHE_WRITE,
                         OPERATION_IN, OPERATION_OUT}  # fmt: skip
        check_counters(
            aigw_telemetry, {USAGE_IN: 11, USAGE_OUT: 2, USAGE_CACHE_READ: 3, USAGE_CACHE_WRITE: 1}, "claude-test-5"
        )


def test_anthropic_count_tokens_keeps_the_released_duration(conventions, aigw_telemetry, fake_api):
    fake_api.reply(Reply(json={"input_tokens": 42}))
    anthropic_client(fake_api).messages.count_tokens(model="claude-test-5", messages=[{"role": "user", "content": "x"}])

    assert aigw_telemetry.span().attributes["anthropic.message.count_tokens.input_tokens"] == 42
    assert set(points(aigw_telemetry)) == {OP_DURATION}
    check_scope(aigw_telemetry, conventions)


# --- the default, and changing the switch ---


def test_default_is_the_released_set_byte_for_byte(aigw_telemetry, fake_api, openai_client, monkeypatch):
    """Unset and set-to-something-else give the same output, in the released names."""
    outputs = []
    for value in (None, "http/dup,database", "gen_ai"):
        if value is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, value)
        aigw_telemetry.clear()
        aigw_telemetry.instrument()
        fake_api.reply(Reply(json=RESPONSE))
        openai_client().responses.create(model="gpt-4.1", input="ping")
        span = aigw_telemetry.span()
        outputs.append((span.name, dict(span.attributes), span.instrumentation_scope.schema_url,
                        sorted(points(aigw_telemetry))))  # fmt: skip
    assert outputs[0] == outputs[1] == outputs[2]
    assert outputs[0][2] == RELEASED_SCHEMA
    assert outputs[0][1][CACHE_CREATION_KEY] == 3
    assert outputs[0][3] == [OP_DURATION, TOKEN_USAGE]


def test_switch_is_read_at_instrument_time(aigw_telemetry, fake_api, openai_client, monkeypatch):
    client = openai_client()  # the same client across both: nothing cached on it carries the old conventions over
    fake_api.reply(Reply(json=RESPONSE))
    monkeypatch.delenv(ENV, raising=False)
    aigw_telemetry.instrument()
    client.responses.create(model="gpt-4.1", input="ping")
    monkeypatch.setenv(ENV, "gen_ai_latest_experimental")
    client.responses.create(model="gpt-4.1", input="ping")  # still instrumented as before: read once
    first, second = aigw_telemetry.spans()
    assert CACHE_CREATION_KEY in first.attributes
    assert CACHE_CREATION_KEY in second.attributes

    aigw_telemetry.clear()
    aigw_trace.uninstrument()
    aigw_telemetry.instrument()
    client.responses.create(model="gpt-4.1", input="ping")
    assert aigw_telemetry.span().attributes[CACHE_WRITE_KEY] == 3
    assert TOKEN_USAGE not in points(aigw_telemetry)
    assert one(aigw_telemetry, USAGE_CACHE_WRITE).value == 3


# --- the vocabulary table and content forms ---


def test_latest_table_is_one_to_one_and_only_renames():
    assert len(set(A.LATEST.values())) == len(A.LATEST)
    assert all(old != new for old, new in A.LATEST.items())
    assert A.LATEST[A.USAGE_CACHE_CREATION_INPUT_TOKENS] == CACHE_WRITE_KEY
    assert A.named(A.USAGE_CACHE_CREATION_INPUT_TOKENS, False) == CACHE_CREATION_KEY
    assert A.named(A.RESPONSE_MODEL, True) == "gen_ai.response.model"


def routed(provider: str, url: str) -> Any:
    """The endpoint a provider routes a ``POST url`` to (through its public route, whatever module holds it)."""
    (found,) = [p for p in providers() if p.name == provider]
    options = SimpleNamespace(method="post", url=url, json_data={}, extra_json=None, span_name=None, headers={})
    return found.route(options)


def test_endpoints_share_one_reader_unless_a_key_differs():
    embeddings = routed("openai", "/embeddings")
    released, latest = embeddings.readers
    assert released is latest is embeddings.reader
    released, latest = routed("anthropic", "/v1/messages").readers
    assert released is not latest
    r_attrs: dict[str, Any] = {}
    l_attrs: dict[str, Any] = {}
    released.read(MESSAGE, r_attrs)
    latest.read(MESSAGE, l_attrs)
    assert r_attrs.pop(CACHE_CREATION_KEY) == l_attrs.pop(CACHE_WRITE_KEY) == 2
    assert r_attrs == l_attrs


def test_request_top_k_is_a_double_released_and_an_int_latest(conventions, aigw_telemetry, fake_api):
    fake_api.reply(Reply(json=MESSAGE))
    anthropic_client(fake_api).messages.create(
        model="claude-test-5",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
        # The newest SDK has no keyword for either any more; older releases send them the same way.
        extra_body={"top_k": 5, "temperature": 0.5},
    )

    attrs = dict(aigw_telemetry.span().attributes)
    top_k = attrs["gen_ai.request.top_k"]
    assert (type(top_k), top_k) == ((float, 5.0) if conventions == "released" else (int, 5))
    assert attrs["gen_ai.request.temperature"] == 0.5  # the other request fields read alike in both


def test_endpoints_share_one_request_table_unless_a_key_or_type_differs():
    chat = routed("openai", "/chat/completions")
    assert chat.request_tables[0] is chat.request_tables[1]
    released, latest = routed("anthropic", "/v1/messages").request_tables
    assert released is not latest
    assert list(released.keys) == list(latest.keys)
    assert released.table["top_k"][1] is not latest.table["top_k"][1]
    assert released.table["temperature"] == latest.table["temperature"]


def test_generic_parts_copy_only_what_changes():
    text = {"type": "text", "content": "hi"}
    odd = {"type": "search_result", "source": "s"}
    untyped = {"source": "s"}
    message = {"role": "user", "parts": [text, odd, untyped]}
    plain = {"role": "assistant", "parts": [text]}
    items = [message, plain]

    out = generic_parts(items, True)
    assert out[0]["parts"] == [
        text,
        {"type": "generic", "generic_type": "search_result", "source": "s"},
        {"type": "generic", "source": "s"},
    ]
    assert out[1] is plain  # untouched messages are not copied
    assert message["parts"][1] == {"type": "search_result", "source": "s"}  # the input is never changed
    assert generic_parts([text], False) == [text]
    assert generic_parts([odd], False) == [{"type": "generic", "generic_type": "search_result", "source": "s"}]
    assert same_parts(items, True) is items


def test_latest_subset_counters_skip_zero_counts(aigw_telemetry, fake_api, monkeypatch):
    monkeypatch.setenv(ENV, "gen_ai_latest_experimental")
    aigw_telemetry.instrument()
    usage = {"input_tokens": 11, "output_tokens": 3, "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0}
    fake_api.reply(Reply(json={**MESSAGE, "usage": usage}))
    anthropic_client(fake_api).messages.create(
        model="claude-test-5", max_tokens=64, messages=[{"role": "user", "content": "ping"}]
    )

    assert aigw_telemetry.span().attributes[CACHE_WRITE_KEY] == 0  # the span still says what the provider said
    check_counters(aigw_telemetry, {USAGE_IN: 11, USAGE_OUT: 3}, "claude-test-5")
