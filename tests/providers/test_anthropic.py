"""anthropic 2.x through the real SDK clients: one complete span per call, with the SDK's own tracing on or off.

Native tracing "on" gives each client the test's tracer provider (``open_telemetry={"tracer_provider": …}``), so a
span the SDK made would land in the same exporter as ours: every test then checks *all* finished spans, not only the
GenAI ones. ``test_native_tracing_is_really_on`` shows that this setting does make the SDK trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import anthropic
import httpx2
import pydantic
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import SpanKind, StatusCode

import aigw_trace
from aigw_trace import _attributes as A
from tests.canned import message, sse
from tests.conftest import FakeAPI, Reply, ids, parent_of

MODEL = "claude-test-5"
MESSAGES = [{"role": "user", "content": "ping"}]


def message_events(
    texts: tuple[str, ...] = ("t0", "t1", "t2"),
    *,
    delta_usage: dict[str, Any] | None = None,
    stop: str = "end_turn",
    end: bool = True,
) -> list[dict[str, Any]]:
    """A streamed Message: ``message_start``, one text block, then (with ``end``) ``message_delta`` and stop."""
    usage = {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 0}
    start = message(id="msg_s", content=[], stop_reason=None, usage=usage)
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}} for t in texts),
        {"type": "content_block_stop", "index": 0},
    ]
    if end:
        final = delta_usage if delta_usage is not None else {"output_tokens": len(texts)}
        events += [
            {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": final},
            {"type": "message_stop"},
        ]
    return events


def stream_reply(events: list[dict[str, Any]]) -> Reply:
    return Reply(chunks=sse(events, done=False, named=True))


# --- clients and checks ---


def make_client(
    api: FakeAPI, telemetry: Any, *, native: bool, is_async: bool = False, cls: Any = None, **kwargs: Any
) -> Any:
    """A real client of ``cls`` talking to ``api``, with the SDK's own tracing on (into ``telemetry``) or off."""
    kwargs.setdefault("max_retries", 0)
    if "open_telemetry" not in kwargs:
        kwargs["open_telemetry"] = {"tracer_provider": telemetry.tracer_provider} if native else False
    if cls is None:
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
        kwargs.setdefault("api_key", "sk-ant-test-secret")
        kwargs.setdefault("base_url", "http://gateway.test:4000")
    if is_async:
        return cls(http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(api.async_handler)), **kwargs)
    return cls(http_client=httpx2.Client(transport=httpx2.MockTransport(api.handler)), **kwargs)


@pytest.fixture(params=[True, False], ids=["native-on", "native-off"])
def native(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def client_factory(fake_api: FakeAPI, aigw_telemetry: Any, native: bool) -> Callable[..., Any]:
    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("native", native)
        return make_client(fake_api, aigw_telemetry, **kwargs)

    return make


def the_span(telemetry: Any) -> Any:
    """The one span of the call, among *every* finished span: ours, never the SDK's, never both."""
    spans = telemetry.spans()
    assert [s.instrumentation_scope.name for s in spans] == ["aigw_trace"], [(s.name, s.attributes) for s in spans]
    return spans[0]


def assert_parent(headers: httpx2.Headers, span: Any) -> None:
    trace_id, parent, sampled = parent_of(headers)
    assert (trace_id, parent) == ids(span)
    # Only the sampled bit: the SDK's random-trace-id flag makes a sampled span propagate "-03".
    assert sampled == span.get_span_context().trace_flags.sampled


# --- one span, whatever the SDK's own tracing does ---


def test_one_complete_span_per_call(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    result = client_factory().messages.create(
        model=MODEL, max_tokens=256, messages=MESSAGES, stop_sequences=["END"], service_tier="auto",
        extra_body={"temperature": 0.2, "top_p": 0.9, "top_k": 40},
    )  # fmt: skip

    assert isinstance(result, anthropic.types.Message)
    span = the_span(aigw_telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "anthropic",
        A.REQUEST_MODEL: MODEL,
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
        A.REQUEST_MAX_TOKENS: 256,
        A.REQUEST_STOP_SEQUENCES: ("END",),
        A.REQUEST_TEMPERATURE: 0.2,
        A.REQUEST_TOP_P: 0.9,
        A.REQUEST_TOP_K: 40.0,
        A.ANTHROPIC_REQUEST_SERVICE_TIER: "auto",
        A.RESPONSE_ID: "msg_01",
        A.RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
        A.ANTHROPIC_RESPONSE_SERVICE_TIER: "standard",
        A.RESPONSE_FINISH_REASONS: ("end_turn",),
        A.USAGE_INPUT_TOKENS: 18,  # 11 + 5 read from the cache + 2 written to it
        A.USAGE_OUTPUT_TOKENS: 3,
        A.USAGE_CACHE_READ_INPUT_TOKENS: 5,
        A.USAGE_CACHE_CREATION_INPUT_TOKENS: 2,
    }
    assert_parent(fake_api.headers[0], span)
    sent = fake_api.body()
    assert (sent["temperature"], sent["top_p"], sent["top_k"]) == (0.2, 0.9, 40)


async def test_async_client_has_the_same_single_span(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    await client_factory(is_async=True).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 18
    assert_parent(fake_api.headers[0], span)


def test_native_tracing_is_really_on(aigw_telemetry, fake_api):
    """Without aigw-trace the SDK does trace these clients; with it, its span gives way to ours, and comes back."""
    fake_api.reply(Reply(json=message()))
    client = make_client(fake_api, aigw_telemetry, native=True)
    aigw_trace.uninstrument()
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    (native,) = aigw_telemetry.spans()
    assert native.name == "anthropic.messages.create"
    assert native.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert_parent(fake_api.headers[-1], native)

    aigw_telemetry.clear()
    aigw_telemetry.instrument()
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert_parent(fake_api.headers[-1], the_span(aigw_telemetry))

    aigw_telemetry.clear()
    aigw_trace.uninstrument()
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert [s.name for s in aigw_telemetry.spans()] == ["anthropic.messages.create"]


def test_global_tracer_provider_and_env_switch(aigw_telemetry, fake_api, monkeypatch):
    """A client given no option traces into the global provider, or not at all under ANTHROPIC_OPEN_TELEMETRY=false:
    one span either way."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", aigw_telemetry.tracer_provider)
    fake_api.reply(Reply(json=message()))
    for env in ("true", "false"):
        monkeypatch.setenv("ANTHROPIC_OPEN_TELEMETRY", env)
        aigw_telemetry.clear()
        client = make_client(fake_api, aigw_telemetry, native=True, open_telemetry=None)
        assert client.open_telemetry["traces"]["enabled"] is (env == "true")
        client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
        assert_parent(fake_api.headers[-1], the_span(aigw_telemetry))


def test_unsampled_call_reaches_the_gateway_unsampled(aigw_telemetry, fake_api, native):
    sampled_out = TracerProvider(sampler=ALWAYS_OFF)
    ours: list[Any] = []
    aigw_trace.uninstrument()
    aigw_trace.instrument(tracer_provider=sampled_out, meter_provider=aigw_telemetry.meter_provider,
                          request_hook=lambda span, info: ours.append(span.get_span_context()))  # fmt: skip
    fake_api.reply(Reply(json=message()))
    telemetry = {"tracer_provider": sampled_out} if native else False
    make_client(fake_api, aigw_telemetry, native=native, open_telemetry=telemetry).messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES
    )
    (context,) = ours
    assert parent_of(fake_api.headers[0]) == (format(context.trace_id, "032x"), format(context.span_id, "016x"), False)
    assert aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)  # metrics do not depend on sampling


def test_sdk_span_stays_when_aigw_has_nowhere_to_record(aigw_telemetry, fake_api):
    """aigw-trace on the API's no-op provider (nothing set up) must not take away spans a client sends elsewhere."""
    aigw_trace.uninstrument()
    aigw_trace.instrument(tracer_provider=trace.NoOpTracerProvider(), meter_provider=aigw_telemetry.meter_provider)
    fake_api.reply(Reply(json=message()))
    make_client(fake_api, aigw_telemetry, native=True).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    (native,) = aigw_telemetry.spans()
    assert native.name == "anthropic.messages.create"
    assert_parent(fake_api.headers[0], native)


def test_sdk_propagation_switch_does_not_silence_aigw(aigw_telemetry, fake_api):
    """aigw-trace's own ``propagate`` setting governs injection; the SDK's only governed its own span's."""
    fake_api.reply(Reply(json=message()))
    telemetry = {"tracer_provider": aigw_telemetry.tracer_provider, "propagation": False}
    make_client(fake_api, aigw_telemetry, native=True, open_telemetry=telemetry).messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES
    )
    assert_parent(fake_api.headers[0], the_span(aigw_telemetry))


def test_caller_traceparent_is_kept(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers={"traceparent": mine})
    the_span(aigw_telemetry)
    assert fake_api.headers[0]["traceparent"] == mine


def test_suppressed_instrumentation_means_no_span_at_all(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    with suppress_instrumentation():
        client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert aigw_telemetry.spans() == []
    assert "traceparent" not in fake_api.headers[0]


def test_app_span_is_the_parent(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handler") as outer:
        client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    chat, app = aigw_telemetry.spans()
    assert (chat.instrumentation_scope.name, app.name) == ("aigw_trace", "handler")
    assert chat.parent.span_id == outer.get_span_context().span_id
    assert_parent(fake_api.headers[0], chat)


def test_tool_runner_keeps_its_own_spans_and_usage_is_counted_once(aigw_telemetry, fake_api, client_factory, native):
    """The SDK's agent-level spans (no usage) stay; each Messages call inside is one of ours."""

    @anthropic.beta_tool
    def lookup(q: str) -> str:
        """Find a thing."""
        return "42"

    tool_turn = message(stop_reason="tool_use", content=[
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}])  # fmt: skip
    fake_api.reply(Reply(json=tool_turn), Reply(json=message()))
    runner = client_factory().beta.messages.tool_runner(model=MODEL, max_tokens=64, messages=MESSAGES, tools=[lookup])
    assert runner.until_done().content[0].text == "pong"

    spans = aigw_telemetry.spans()
    with_usage = [s for s in spans if any(k.startswith("gen_ai.usage.") for k in s.attributes)]
    assert [s.name for s in with_usage] == [f"chat {MODEL}"] * 2
    assert {s.instrumentation_scope.name for s in with_usage} == {"aigw_trace"}
    native_names = sorted(s.name for s in spans if s not in with_usage)
    assert native_names == (["anthropic.custom_tool_use lookup", "anthropic.messages.tool_runner"] if native else [])
    for headers, span in zip(fake_api.headers, with_usage, strict=True):
        assert_parent(headers, span)


# --- every SDK way to send a Message ---


def test_parse_records_json_output(aigw_telemetry, fake_api, client_factory):
    class Answer(pydantic.BaseModel):
        word: str

    fake_api.reply(Reply(json=message(content=[{"type": "text", "text": '{"word": "pong"}'}])))
    parsed = client_factory().messages.parse(model=MODEL, max_tokens=64, messages=MESSAGES, output_format=Answer)
    assert parsed.parsed_output == Answer(word="pong")
    span = the_span(aigw_telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes[A.OUTPUT_TYPE] == "json"
    assert span.attributes[A.RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert_parent(fake_api.headers[0], span)


def test_beta_messages_are_the_same_chat(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    client_factory().beta.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, betas=["context-1m"])
    span = the_span(aigw_telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 18
    assert fake_api.headers[0]["anthropic-beta"] == "context-1m"
    assert_parent(fake_api.headers[0], span)


def test_thinking_is_requested_and_counted_as_reasoning(aigw_telemetry, fake_api, client_factory):
    usage = {"input_tokens": 4, "output_tokens": 90, "output_tokens_details": {"thinking_tokens": 60}}
    fake_api.reply(Reply(json=message(usage=usage)))
    client_factory().messages.create(
        model=MODEL, max_tokens=2048, messages=MESSAGES, thinking={"type": "enabled", "budget_tokens": 1024},
        output_config={"effort": "high"},
    )  # fmt: skip
    attrs = the_span(aigw_telemetry).attributes
    assert attrs[A.ANTHROPIC_THINKING_TYPE] == "enabled"
    assert attrs[A.ANTHROPIC_THINKING_BUDGET_TOKENS] == 1024
    assert attrs[A.REQUEST_REASONING_LEVEL] == "high"
    assert attrs[A.USAGE_REASONING_OUTPUT_TOKENS] == 60
    assert attrs[A.USAGE_OUTPUT_TOKENS] == 90
    assert attrs[A.USAGE_INPUT_TOKENS] == 4  # no cache fields: nothing to add


def test_raw_response_is_read_without_the_caller_parsing(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    raw = client_factory().messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 18
    assert raw.parse().id == "msg_01"


def test_streaming_response_ends_when_the_caller_is_done(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(chunks=[json.dumps(message()).encode()], headers={"content-type": "application/json"}))
    with client_factory().messages.with_streaming_response.create(model=MODEL, max_tokens=8, messages=MESSAGES) as r:
        assert aigw_telemetry.spans() == []
        assert r.parse().id == "msg_01"
    span = the_span(aigw_telemetry)
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 18
    assert_parent(fake_api.headers[0], span)


def test_request_made_outside_the_sdk_methods(aigw_telemetry, fake_api, client_factory):
    """``client.post`` has no SDK span name: the Messages path is still a chat, anything else an ``http.*`` span."""
    fake_api.reply(Reply(json=message()))
    client = client_factory()
    body = {"model": MODEL, "max_tokens": 8, "messages": MESSAGES}
    client.post("/v1/messages", cast_to=anthropic.types.Message, body=body)
    assert the_span(aigw_telemetry).name == f"chat {MODEL}"
    aigw_telemetry.clear()
    client.get("/v1/custom", cast_to=object)
    span = the_span(aigw_telemetry)
    assert (span.name, span.attributes[A.OPERATION_NAME]) == ("http.get", "http.get")
    assert_parent(fake_api.headers[-1], span)


# --- the other endpoints: one plain span each, named after the SDK method ---


def test_count_tokens_reports_the_count_not_usage(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json={"input_tokens": 42}))
    assert client_factory().messages.count_tokens(model=MODEL, messages=MESSAGES).input_tokens == 42
    span = the_span(aigw_telemetry)
    assert span.name == f"messages.count_tokens {MODEL}"
    assert span.attributes[A.OPERATION_NAME] == "messages.count_tokens"
    assert span.attributes[A.ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS] == 42
    assert not [k for k in span.attributes if k.startswith("gen_ai.usage.")]
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []
    assert_parent(fake_api.headers[0], span)


BATCH = {
    "id": "msgbatch_01",
    "type": "message_batch",
    "processing_status": "in_progress",
    "request_counts": {"processing": 1, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
    "created_at": "2025-01-01T00:00:00Z",
    "expires_at": "2025-01-02T00:00:00Z",
    "ended_at": None,
    "cancel_initiated_at": None,
    "archived_at": None,
    "results_url": None,
}


@pytest.mark.parametrize("beta", [False, True], ids=["stable", "beta"])
def test_batches_get_a_span_and_the_trace_context(aigw_telemetry, fake_api, client_factory, beta):
    fake_api.reply(Reply(json=BATCH))
    client = client_factory()
    batches = client.beta.messages.batches if beta else client.messages.batches
    request = {"custom_id": "a", "params": {"model": MODEL, "max_tokens": 8, "messages": MESSAGES}}
    batches.create(requests=[request, {**request, "custom_id": "b"}])
    batches.retrieve("msgbatch_01")
    batches.cancel("msgbatch_01")

    spans = aigw_telemetry.spans()
    assert [s.instrumentation_scope.name for s in spans] == ["aigw_trace"] * 3
    names = ["messages.batches.create", "messages.batches.retrieve", "messages.batches.cancel"]
    assert [s.name for s in spans] == names
    assert [s.attributes[A.OPERATION_NAME] for s in spans] == [s.name for s in spans]
    assert spans[0].attributes["anthropic.message.batch.request_count"] == 2
    assert spans[1].attributes["anthropic.message.batch.id"] == "msgbatch_01"
    for headers, span in zip(fake_api.headers, spans, strict=True):
        assert_parent(headers, span)


def test_batch_results_download_is_traced_and_carries_the_context(aigw_telemetry, fake_api, client_factory):
    """``results()`` reads the batch first (its own call), then fetches the JSONL from its ``results_url``."""
    line = json.dumps({"custom_id": "a", "result": {"type": "canceled"}}).encode() + b"\n"
    results_url = "http://gateway.test:4000/v1/messages/batches/msgbatch_01/results"
    fake_api.reply(Reply(json={**BATCH, "results_url": results_url}), Reply(chunks=[line, line]))
    assert len(list(client_factory().messages.batches.results("msgbatch_01"))) == 2
    spans = aigw_telemetry.spans()
    assert [(s.name, s.instrumentation_scope.name) for s in spans] == [
        ("messages.batches.retrieve", "aigw_trace"),
        ("messages.batches.results", "aigw_trace"),
    ]
    assert spans[1].attributes["anthropic.message.batch.id"] == "msgbatch_01"
    for headers, span in zip(fake_api.headers, spans, strict=True):
        assert_parent(headers, span)


def test_models_and_files_get_plain_spans(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json={"data": [], "has_more": False, "first_id": None, "last_id": None}))
    client = client_factory()
    list(client.models.list())
    list(client.beta.files.list())
    spans = aigw_telemetry.spans()
    assert [(s.name, s.instrumentation_scope.name) for s in spans] == [
        ("models.list", "aigw_trace"),
        ("files.list", "aigw_trace"),
    ]
    for headers, span in zip(fake_api.headers, spans, strict=True):
        assert_parent(headers, span)


# --- errors, retries, middleware ---


def test_http_error_is_recorded_once(aigw_telemetry, fake_api, client_factory):
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    fake_api.reply(Reply(status=429, json=error))
    with pytest.raises(anthropic.RateLimitError):
        client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "RateLimitError"
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == 429
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.ERROR_TYPE] == "RateLimitError"


def test_error_object_in_a_200_body_marks_the_span(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}))
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "overloaded_error"


def test_retries_share_the_one_span(aigw_telemetry, fake_api, client_factory):
    busy = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    fake_api.reply(
        Reply(status=529, json=busy, headers={"retry-after-ms": "1"}),
        Reply(status=529, json=busy, headers={"retry-after-ms": "1"}),
        Reply(json=message()),
    )
    client_factory(max_retries=2).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.UNSET
    assert len(fake_api.requests) == 3
    for headers in fake_api.headers:
        assert_parent(headers, span)


def test_middleware_runs_inside_the_one_span(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    seen: list[Any] = []

    def middleware(request: Any, call_next: Any) -> Any:
        seen.append(trace.get_current_span().get_span_context().span_id)
        return call_next(request)

    client_factory(middleware=[middleware]).messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert seen == [span.get_span_context().span_id]
    assert_parent(fake_api.headers[0], span)


async def test_async_middleware_runs_inside_the_one_span(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    seen: list[Any] = []

    async def middleware(request: Any, call_next: Any) -> Any:
        seen.append(trace.get_current_span().get_span_context().span_id)
        return await call_next(request)

    client = client_factory(is_async=True, middleware=[middleware])
    await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    span = the_span(aigw_telemetry)
    assert seen == [span.get_span_context().span_id]
    assert_parent(fake_api.headers[0], span)


# --- metrics ---


def test_metrics_count_normalised_input_tokens(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert dict(duration.attributes) == {
        A.OPERATION_NAME: "chat",
        A.PROVIDER_NAME: "anthropic",
        A.REQUEST_MODEL: MODEL,
        A.RESPONSE_MODEL: "claude-sonnet-4-5-20250929",
        A.SERVER_ADDRESS: "gateway.test",
        A.SERVER_PORT: 4000,
    }
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens == {"input": 18, "output": 3}


# --- Bedrock and Vertex ---


class RecordingBedrock(anthropic.AnthropicBedrock):
    """Bedrock whose request hook (where SigV4 signs) notes the trace header it finds, so signing would cover it."""

    at_signing: ClassVar[list[str | None]] = []

    def _prepare_request(self, request: httpx2.Request) -> None:
        self.at_signing.append(request.headers.get("traceparent"))
        super()._prepare_request(request)


def test_bedrock_is_aws_bedrock_and_signs_over_the_trace_header(aigw_telemetry, fake_api, native):
    fake_api.reply(Reply(json=message()))
    RecordingBedrock.at_signing = []
    client = make_client(fake_api, aigw_telemetry, native=native, cls=RecordingBedrock, api_key="bedrock-key",
                         aws_region="us-east-1", base_url="http://bedrock.test")  # fmt: skip
    model = "anthropic.claude-sonnet-4-5-v1:0"
    client.messages.create(model=model, max_tokens=64, messages=MESSAGES)

    span = the_span(aigw_telemetry)
    assert span.name == f"chat {model}"
    assert span.attributes[A.PROVIDER_NAME] == "aws.bedrock"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 18
    assert fake_api.requests[0].url.path == f"/model/{model}/invoke"
    assert RecordingBedrock.at_signing == [fake_api.headers[0]["traceparent"]]
    assert_parent(fake_api.headers[0], span)


def test_bedrock_refuses_batches_inside_the_span(aigw_telemetry, fake_api, native):
    client = make_client(fake_api, aigw_telemetry, native=native, cls=anthropic.AnthropicBedrock,
                         api_key="bedrock-key", aws_region="us-east-1", base_url="http://bedrock.test")  # fmt: skip
    with pytest.raises(anthropic.AnthropicError, match="Batch API is not supported"):
        client.messages.batches.create(requests=[])
    span = the_span(aigw_telemetry)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "AnthropicError"
    assert fake_api.requests == []


async def test_vertex_is_gcp_vertex_ai_and_streams(aigw_telemetry, fake_api, native):
    fake_api.reply(stream_reply(message_events()))
    client = make_client(fake_api, aigw_telemetry, native=native, is_async=True, cls=anthropic.AsyncAnthropicVertex,
                         region="us-east5", project_id="proj", access_token="token",
                         base_url="http://vertex.test/v1")  # fmt: skip
    stream = await client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)
    assert [e.type async for e in stream][-1] == "message_stop"

    span = the_span(aigw_telemetry)
    assert span.name == f"chat {MODEL}"
    assert span.attributes[A.PROVIDER_NAME] == "gcp.vertex_ai"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert fake_api.requests[0].url.path.endswith(f"/models/{MODEL}:streamRawPredict")
    assert_parent(fake_api.headers[0], span)


# --- content capture (opt-in) ---

TOOLS = [
    {"name": "lookup", "description": "Find a thing", "input_schema": {"type": "object"}},
    {"type": "web_search_20250305", "name": "web_search"},
]
HISTORY = [
    {"role": "user", "content": [
        {"type": "text", "text": "what is in it?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}},
        {"type": "image", "source": {"type": "url", "url": "https://img.test/a.png"}},
    ]},
    {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "look it up", "signature": "sig"},
        {"type": "tool_use", "id": "toolu_0", "name": "lookup", "input": {"q": "x"}},
    ]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0", "content": "42"}]},
]  # fmt: skip


def test_no_content_by_default(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=HISTORY, system="be brief", tools=TOOLS)
    attrs = the_span(aigw_telemetry).attributes
    for key in (A.INPUT_MESSAGES, A.OUTPUT_MESSAGES, A.SYSTEM_INSTRUCTIONS, A.TOOL_DEFINITIONS):
        assert key not in attrs


@pytest.mark.aigw_options(capture_content="span_only")
def test_content_follows_the_part_schema(aigw_telemetry, fake_api, client_factory):
    reply = message(stop_reason="tool_use", content=[
        {"type": "thinking", "thinking": "need more", "signature": "s"},
        {"type": "text", "text": "checking"},
        {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "y"}},
    ])  # fmt: skip
    fake_api.reply(Reply(json=reply))
    client_factory().messages.create(
        model=MODEL, max_tokens=64, messages=HISTORY, tools=TOOLS,
        system=[{"type": "text", "text": "be brief"}],
    )  # fmt: skip

    attrs = the_span(aigw_telemetry).attributes
    assert json.loads(attrs[A.SYSTEM_INSTRUCTIONS]) == [{"type": "text", "content": "be brief"}]
    assert json.loads(attrs[A.INPUT_MESSAGES]) == [
        {"role": "user", "parts": [
            {"type": "text", "content": "what is in it?"},
            {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0"},
            {"type": "uri", "modality": "image", "uri": "https://img.test/a.png"},
        ]},
        {"role": "assistant", "parts": [
            {"type": "reasoning", "content": "look it up"},
            {"type": "tool_call", "id": "toolu_0", "name": "lookup", "arguments": {"q": "x"}},
        ]},
        {"role": "user", "parts": [{"type": "tool_call_response", "id": "toolu_0", "response": "42"}]},
    ]  # fmt: skip
    assert json.loads(attrs[A.TOOL_DEFINITIONS]) == [
        {"type": "function", "name": "lookup", "description": "Find a thing"},
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    assert json.loads(attrs[A.OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": "need more"},
                {"type": "text", "content": "checking"},
                {"type": "tool_call", "id": "toolu_1", "name": "lookup", "arguments": {"q": "y"}},
            ],
            "finish_reason": "tool_use",
        }
    ]


@pytest.mark.aigw_options(capture_content="span_only")
def test_one_shot_iterables_are_left_for_the_sdk(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=iter(MESSAGES))
    assert fake_api.body()["messages"] == MESSAGES
    assert A.INPUT_MESSAGES not in the_span(aigw_telemetry).attributes


@pytest.mark.aigw_options(capture_content="event_only")
def test_event_content_is_structured(aigw_telemetry, fake_api, client_factory):
    fake_api.reply(Reply(json=message()))
    client_factory().messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, system="be brief")
    span = the_span(aigw_telemetry)
    assert A.INPUT_MESSAGES not in span.attributes
    (record,) = aigw_telemetry.logs(A.EVENT_INFERENCE_DETAILS)
    attrs = record.log_record.attributes
    assert attrs[A.SYSTEM_INSTRUCTIONS] == ({"type": "text", "content": "be brief"},)
    assert attrs[A.OUTPUT_MESSAGES] == (
        {"role": "assistant", "parts": ({"type": "text", "content": "pong"},), "finish_reason": "end_turn"},
    )
    assert attrs[A.USAGE_INPUT_TOKENS] == 18
