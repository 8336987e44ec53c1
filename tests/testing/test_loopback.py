"""The loopback gateway, driven by the real ``openai`` and ``anthropic`` SDK clients."""

from __future__ import annotations

import base64
import dataclasses
import json
import subprocess
import sys
import threading
import time

import anthropic
import httpx2
import openai
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace.testing import Fault, LoopbackGateway, RecordedRequest, TokenUsage

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN_ID = "b7ad6b7169203331"
SAMPLED = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"}
UNSAMPLED = {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN_ID}-00"}
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]}
MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 16, "messages": [{"role": "user", "content": "ping"}]}


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    provider = TracerProvider()  # default sampler: ParentBased(ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def gateway(provider):
    with LoopbackGateway(tracer_provider=provider) as gateway:
        yield gateway


# Plain HTTP on loopback: verify=False skips loading the CA bundle, ~150 ms per client.


def openai_client(gateway, **kwargs):
    kwargs = {"api_key": "test", "base_url": gateway.openai_base_url, "max_retries": 0, **kwargs}
    return openai.OpenAI(http_client=openai.DefaultHttpxClient(verify=False), **kwargs)


@pytest.fixture
def oai(gateway):
    with openai_client(gateway) as client:
        yield client


@pytest.fixture
async def async_oai(gateway):
    http_client = openai.DefaultAsyncHttpxClient(verify=False)
    kwargs = {"api_key": "test", "base_url": gateway.openai_base_url, "max_retries": 0}
    async with openai.AsyncOpenAI(http_client=http_client, **kwargs) as client:
        yield client


def anthropic_kwargs(gateway):
    # open_telemetry=False: anthropic's own tracing is not what these tests are about.
    return {"api_key": "test", "base_url": gateway.anthropic_base_url, "max_retries": 0, "open_telemetry": False}


@pytest.fixture
def claude(gateway):
    http_client = anthropic.DefaultHttpxClient(verify=False)
    with anthropic.Anthropic(http_client=http_client, **anthropic_kwargs(gateway)) as client:
        yield client


@pytest.fixture
async def async_claude(gateway):
    http_client = anthropic.DefaultAsyncHttpxClient(verify=False)
    async with anthropic.AsyncAnthropic(http_client=http_client, **anthropic_kwargs(gateway)) as client:
        yield client


def spans_by_role(exporter, role):
    return [s for s in exporter.get_finished_spans() if s.attributes.get("aigw.gateway.role") == role]


def only(spans):
    assert len(spans) == 1, [s.name for s in spans]
    return spans[0]


def hex_ids(span):
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


# --- OpenAI routes ---


def test_chat_completion(oai):
    completion = oai.chat.completions.create(**CHAT)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == "pong"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.system_fingerprint
    assert completion.service_tier == "default"
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 5, 17)
    assert usage.prompt_tokens_details.cached_tokens == 4
    assert usage.completion_tokens_details.reasoning_tokens == 1


def test_chat_stream_sends_role_then_content_then_finish_then_done(oai, gateway):
    chunks = list(oai.chat.completions.create(**CHAT, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "pong"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks)
    assert gateway.last_request.stream


def test_chat_stream_usage_chunk_only_when_asked(oai):
    chunks = list(oai.chat.completions.create(**CHAT, stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].choices == []
    assert chunks[-1].usage.total_tokens == 17
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_stream_chunk_count_is_configurable(oai, claude, gateway):
    gateway.stream_chunks = 50
    chat = [c for c in oai.chat.completions.create(**CHAT, stream=True) if c.choices and c.choices[0].delta.content]
    events = list(claude.messages.create(**MESSAGE, stream=True))
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert len(chat) == 4  # "pong" has 4 characters; the other 46 deltas are empty strings
    assert len(deltas) == 50
    assert "".join(d.delta.text for d in deltas) == "pong"


def test_reply_text_is_configurable(oai, gateway):
    gateway.text = "a longer answer"
    gateway.stream_chunks = 3
    pieces = [c.choices[0].delta.content for c in oai.chat.completions.create(**CHAT, stream=True)][1:-1]
    assert pieces == ["a lon", "ger a", "nswer"]


async def test_async_chat(async_oai):
    completion = await async_oai.chat.completions.create(**CHAT)
    stream = await async_oai.chat.completions.create(**CHAT, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert completion.choices[0].message.content == text == "pong"


def test_responses(oai):
    response = oai.responses.create(model="gpt-4o-mini", input="ping")
    assert response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == "pong"
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 5)
    assert usage.input_tokens_details.cached_tokens == 4
    assert usage.output_tokens_details.reasoning_tokens == 1


def test_responses_stream(oai):
    events = list(oai.responses.create(model="gpt-4o-mini", input="ping", stream=True))
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert types.count("response.output_text.delta") == 2
    assert types[-1] == "response.completed"
    assert events[-1].response.output_text == "pong"
    with oai.responses.stream(model="gpt-4o-mini", input="ping") as stream:  # the SDK's accumulating helper
        assert stream.get_final_response().output_text == "pong"


async def test_async_responses_stream(async_oai):
    stream = await async_oai.responses.create(model="gpt-4o-mini", input="ping", stream=True)
    events = [e async for e in stream]
    assert events[-1].response.usage.total_tokens == 17


def test_embeddings_floats_and_base64(oai, gateway):
    floats = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"], encoding_format="float")
    assert [e.index for e in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 8
    assert floats.usage.prompt_tokens == floats.usage.total_tokens == 12
    # Without encoding_format the SDK asks for base64 and decodes it itself.
    decoded = oai.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert gateway.last_request.json["encoding_format"] == "base64"
    assert [e.embedding for e in decoded.data] == [e.embedding for e in floats.data]
    raw = oai.embeddings.create(model="m", input="a", encoding_format="base64", dimensions=4)
    assert len(base64.b64decode(raw.data[0].embedding)) == 4 * 4


def test_legacy_completions(oai):
    completion = oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="ping")
    assert completion.choices[0].text == "pong"
    assert completion.usage.total_tokens == 17
    chunks = list(oai.completions.create(model="gpt-3.5-turbo-instruct", prompt="ping", stream=True))
    assert "".join(c.choices[0].text for c in chunks) == "pong"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_models(oai):
    assert [m.id for m in oai.models.list()] == ["gpt-4o-mini", "claude-haiku-4-5"]


def test_unknown_route_is_a_404_in_openai_shape(oai, gateway, exporter):
    with pytest.raises(openai.NotFoundError) as raised:
        oai.models.retrieve("gpt-4o-mini")  # GET /v1/models/{id} is not served
    assert raised.value.body["message"].startswith("Unknown route: GET /v1/models/")
    server = only(spans_by_role(exporter, "gateway"))
    assert server.name == "GET"
    assert server.attributes["http.response.status_code"] == 404
    assert server.status.status_code is StatusCode.UNSET  # a 4xx is the caller's fault
    assert spans_by_role(exporter, "upstream") == []


# --- Anthropic routes ---


def test_anthropic_message(claude):
    message = claude.messages.create(**MESSAGE)
    assert message.id.startswith("msg_")
    assert (message.role, message.type) == ("assistant", "message")
    assert message.content[0].text == "pong"
    assert message.model == "claude-haiku-4-5"
    assert message.stop_reason == "end_turn"
    usage = message.usage
    # Anthropic counts uncached input apart: 12 in total = 6 + 4 read from cache + 2 written to it.
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (6, 4, 2)
    assert usage.output_tokens == 5


def test_anthropic_stream_event_sequence(claude):
    types = [e.type for e in claude.messages.create(**MESSAGE, stream=True)]
    assert types == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    with claude.messages.stream(**MESSAGE) as stream:  # the SDK's accumulating helper
        final = stream.get_final_message()
    assert final.content[0].text == "pong"
    assert (final.stop_reason, final.usage.output_tokens, final.usage.cache_read_input_tokens) == ("end_turn", 5, 4)


async def test_async_anthropic(async_claude):
    message = await async_claude.messages.create(**MESSAGE)
    stream = await async_claude.messages.create(**MESSAGE, stream=True)
    text = "".join([e.delta.text async for e in stream if e.type == "content_block_delta"])
    assert message.content[0].text == text == "pong"


def test_anthropic_count_tokens(claude, gateway):
    count = claude.messages.count_tokens(model="claude-haiku-4-5", messages=MESSAGE["messages"])
    assert count.input_tokens == 12
    assert gateway.last_request.path == "/v1/messages/count_tokens"


def test_usage_is_configurable(claude, gateway):
    gateway.usage = TokenUsage(input_tokens=100, output_tokens=7, cached_tokens=0, cache_creation_tokens=0)
    assert claude.messages.create(**MESSAGE).usage.input_tokens == 100


# --- tracing ---


def test_gateway_span_is_a_child_of_the_callers_span(oai, exporter):
    raw = oai.chat.completions.with_raw_response.create(**CHAT, extra_headers=SAMPLED)
    server = only(spans_by_role(exporter, "gateway"))
    upstream = only(spans_by_role(exporter, "upstream"))
    assert server.name == "POST /v1/chat/completions"
    assert server.kind is SpanKind.SERVER
    assert format(server.parent.span_id, "016x") == CALLER_SPAN_ID
    assert hex_ids(server)[0] == TRACE_ID
    assert server.attributes["http.request.method"] == "POST"
    assert server.attributes["url.path"] == "/v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["server.address"] == "127.0.0.1"
    assert server.attributes["server.port"] == int(oai.base_url.port)
    assert upstream.name == "chat gpt-4o-mini"
    assert upstream.kind is SpanKind.CLIENT
    assert upstream.parent.span_id == server.context.span_id
    assert upstream.attributes["gen_ai.provider.name"] == "openai"
    assert upstream.attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert upstream.attributes["gen_ai.usage.input_tokens"] == 12
    assert "gen_ai.operation.name" not in upstream.attributes
    assert raw.headers["traceresponse"] == f"00-{TRACE_ID}-{hex_ids(server)[1]}-01"


def test_anthropic_spans_name_the_provider(claude, exporter):
    claude.messages.create(**MESSAGE, extra_headers=SAMPLED)
    assert only(spans_by_role(exporter, "gateway")).name == "POST /v1/messages"
    upstream = only(spans_by_role(exporter, "upstream"))
    assert (upstream.name, upstream.attributes["gen_ai.provider.name"]) == ("chat claude-haiku-4-5", "anthropic")


def test_streamed_spans_are_finished_when_the_stream_is(oai, exporter):
    for _ in oai.chat.completions.create(**CHAT, stream=True, extra_headers=SAMPLED):
        pass
    assert only(spans_by_role(exporter, "gateway")).attributes["http.response.status_code"] == 200


def test_unsampled_caller_means_no_spans_and_no_traceresponse(oai, exporter):
    raw = oai.chat.completions.with_raw_response.create(**CHAT, extra_headers=UNSAMPLED)
    assert exporter.get_finished_spans() == ()
    assert "traceresponse" not in raw.headers


def test_without_traceparent_the_gateway_starts_a_trace(oai, exporter):
    raw = oai.chat.completions.with_raw_response.create(**CHAT)
    server = only(spans_by_role(exporter, "gateway"))
    assert server.parent is None
    trace_id, span_id = hex_ids(server)
    assert raw.headers["traceresponse"] == f"00-{trace_id}-{span_id}-03"  # 03: sampled + random trace id


def test_restart_trace_starts_a_new_trace_linked_to_the_caller(oai, gateway, exporter):
    gateway.restart_trace = True
    raw = oai.chat.completions.with_raw_response.create(**CHAT, extra_headers=SAMPLED)
    version, trace_id, span_id, _ = raw.headers["traceresponse"].split("-")
    server = only(spans_by_role(exporter, "gateway"))
    assert (version, trace_id, span_id) == ("00", *hex_ids(server))
    assert trace_id != TRACE_ID
    assert server.parent is None
    (link,) = server.links
    assert (format(link.context.trace_id, "032x"), format(link.context.span_id, "016x")) == (TRACE_ID, CALLER_SPAN_ID)


def test_upstream_spans_can_go_to_their_own_provider(provider, exporter):
    upstream_exporter = InMemorySpanExporter()
    upstream_provider = TracerProvider()
    upstream_provider.add_span_processor(SimpleSpanProcessor(upstream_exporter))
    with LoopbackGateway(tracer_provider=provider, upstream_tracer_provider=upstream_provider) as gateway:
        httpx2.post(
            f"{gateway.openai_base_url}/embeddings", json={"model": "m", "input": "a"}, headers=SAMPLED, verify=False
        )
    assert [s.name for s in exporter.get_finished_spans()] == ["POST /v1/embeddings"]
    assert [s.name for s in upstream_exporter.get_finished_spans()] == ["embeddings m"]
    upstream_provider.shutdown()


def test_session_id_from_baggage_or_header(oai, exporter):
    oai.chat.completions.create(**CHAT, extra_headers={**SAMPLED, "baggage": "session.id=s-123"})
    oai.chat.completions.create(**CHAT, extra_headers={**SAMPLED, "agent-session-id": "s-456"})
    sessions = [s.attributes.get("gen_ai.conversation.id") for s in spans_by_role(exporter, "upstream")]
    assert sessions == ["s-123", "s-456"]


def test_gateway_and_extra_response_headers(oai, gateway):
    gateway.response_headers["x-kong-upstream-latency"] = "7"
    headers = oai.chat.completions.with_raw_response.create(**CHAT).headers
    for name in (
        "x-litellm-call-id",
        "x-litellm-model-id",
        "x-litellm-response-cost",
        "x-litellm-response-duration-ms",
        "x-litellm-overhead-duration-ms",
        "x-envoy-upstream-service-time",
    ):
        assert headers[name], name
    assert headers["x-litellm-model-group"] == "gpt-4o-mini"
    assert headers["x-litellm-attempted-retries"] == headers["x-litellm-attempted-fallbacks"] == "0"
    assert headers["x-kong-upstream-latency"] == "7"
    gateway.gateway_headers = False
    assert "x-litellm-call-id" not in oai.chat.completions.with_raw_response.create(**CHAT).headers


# --- recording ---


def test_requests_are_recorded(oai, gateway):
    oai.chat.completions.create(**CHAT, extra_headers={**SAMPLED, "tracestate": "k=v", "X-Custom": "1"})
    request = gateway.last_request
    assert isinstance(request, RecordedRequest)
    assert (request.method, request.path, request.status) == ("POST", "/v1/chat/completions", 200)
    assert request.headers["authorization"] == "Bearer test"
    assert request.headers["x-custom"] == "1"
    assert request.json == CHAT
    assert request.body.startswith(b"{")
    assert request.traceparent == SAMPLED["traceparent"]
    assert request.tracestate == "k=v"
    assert (request.trace_id, request.parent_span_id, request.sampled) == (TRACE_ID, CALLER_SPAN_ID, True)
    assert request.response_headers["traceresponse"].startswith(f"00-{TRACE_ID}-")
    assert request.fault is None


def test_requests_snapshot_and_clear(oai, gateway):
    oai.models.list()
    snapshot = gateway.requests
    oai.models.list()
    assert (len(snapshot), len(gateway.requests)) == (1, 2)
    assert (snapshot[0].traceparent, snapshot[0].trace_id, snapshot[0].json) == (None, None, None)
    gateway.inject(Fault.error(500))
    gateway.clear()
    assert gateway.requests == []
    assert gateway.pending_faults == []
    with pytest.raises(LookupError):
        _ = gateway.last_request


# --- faults ---


def test_rate_limit_then_success_is_two_requests(oai, gateway, exporter):
    gateway_fault = Fault.rate_limited()
    gateway.inject(gateway_fault)
    completion = oai.with_options(max_retries=1).chat.completions.create(**CHAT, extra_headers=SAMPLED)
    assert completion.choices[0].message.content == "pong"
    first, second = gateway.requests
    assert (first.status, second.status) == (429, 200)
    assert first.response_headers["retry-after-ms"] == "1"
    assert (first.fault, second.fault) == (gateway_fault, None)
    failed, _ = spans_by_role(exporter, "upstream")
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.type"] == "429"


def test_server_error_is_an_error_on_the_server_span(oai, claude, gateway, exporter):
    gateway.inject(Fault.error(503, "down"), Fault.error(500))
    with pytest.raises(openai.InternalServerError) as raised:
        oai.chat.completions.create(**CHAT, extra_headers=SAMPLED)
    assert raised.value.status_code == 503
    assert raised.value.body["message"] == "down"
    with pytest.raises(anthropic.InternalServerError) as raised_anthropic:
        claude.messages.create(**MESSAGE, extra_headers=SAMPLED)
    assert raised_anthropic.value.body["error"]["type"] == "api_error"
    for server in spans_by_role(exporter, "gateway"):
        assert server.status.status_code is StatusCode.ERROR
        assert server.attributes["error.type"] == str(server.attributes["http.response.status_code"])


def test_fault_path_filter(oai, gateway):
    gateway.inject(Fault.error(500, path="/v1/embeddings"))
    oai.chat.completions.create(**CHAT)
    assert len(gateway.pending_faults) == 1
    with pytest.raises(openai.InternalServerError):
        oai.embeddings.create(model="m", input="a")
    assert gateway.pending_faults == []


def test_latency(oai, gateway):
    gateway.inject(Fault.slow(0.2))
    started = time.monotonic()
    oai.chat.completions.create(**CHAT)
    assert time.monotonic() - started >= 0.2
    gateway.inject(Fault.slow(0.5))
    with pytest.raises(openai.APITimeoutError):
        oai.with_options(timeout=0.05).chat.completions.create(**CHAT)


def test_chunk_delay(claude, gateway):
    gateway.inject(Fault.slow(0, chunk_delay=0.02))
    started = time.monotonic()
    events = list(claude.messages.create(**MESSAGE, stream=True))
    assert time.monotonic() - started >= 0.02 * (len(events) - 1)


def test_cut_stream_drops_the_connection(oai, claude, gateway, exporter):
    gateway.inject(Fault.cut_stream(after=2), Fault.cut_stream(after=3))
    received = []
    with pytest.raises(openai.APIConnectionError):
        received.extend(oai.chat.completions.create(**CHAT, stream=True, extra_headers=SAMPLED))
    assert len(received) == 2
    with pytest.raises(httpx2.RemoteProtocolError):  # anthropic lets the transport error through
        list(claude.messages.create(**MESSAGE, stream=True, extra_headers=SAMPLED))
    for server in spans_by_role(exporter, "gateway"):
        assert server.status.status_code is StatusCode.ERROR
        assert server.attributes["error.type"] == "stream_cut"


def test_graceful_cut_ends_the_stream_early(oai, claude, gateway):
    gateway.inject(Fault.cut_stream(after=2, graceful=True), Fault.cut_stream(after=100, graceful=True))
    assert len(list(oai.chat.completions.create(**CHAT, stream=True))) == 2
    types = [e.type for e in claude.messages.create(**MESSAGE, stream=True)]
    assert types[-1] == "message_delta"  # everything but the final event


def test_error_event_mid_stream(oai, claude, gateway, exporter):
    gateway.inject(Fault.error_event(after=2, message="boom"), Fault.error_event(after=1))
    received = []
    with pytest.raises(openai.APIError, match="boom"):
        received.extend(oai.chat.completions.create(**CHAT, stream=True, extra_headers=SAMPLED))
    assert len(received) == 2
    with pytest.raises(anthropic.APIError) as raised:
        list(claude.messages.create(**MESSAGE, stream=True, extra_headers=SAMPLED))
    assert raised.value.body["error"]["type"] == "overloaded_error"
    assert [s.attributes["error.type"] for s in spans_by_role(exporter, "gateway")] == ["stream_error_event"] * 2


async def test_async_faults(async_oai, async_claude, gateway):
    gateway.inject(Fault.error_event(after=1), Fault.cut_stream(after=1))
    with pytest.raises(openai.APIError):
        [c async for c in await async_oai.chat.completions.create(**CHAT, stream=True)]
    with pytest.raises(httpx2.RemoteProtocolError):
        [e async for e in await async_claude.messages.create(**MESSAGE, stream=True)]


def test_malformed_bodies(oai, gateway):
    gateway.inject(Fault.raw_body("{not json"), Fault.error_in_body("no upstream"))
    with pytest.raises(json.JSONDecodeError):  # raised by the SDK as is
        oai.chat.completions.create(**CHAT)
    completion = oai.chat.completions.create(**CHAT)
    assert completion.choices is None
    assert completion.error["message"] == "no upstream"  # pydantic keeps the unknown field


def test_fault_headers_win(oai, gateway):
    gateway.inject(dataclasses.replace(Fault.error(400), headers={"x-litellm-model-group": "other"}))
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(**CHAT)
    assert gateway.last_request.response_headers["x-litellm-model-group"] == "other"


# --- lifecycle ---


def gateway_threads():
    return [t for t in threading.enumerate() if t.name.startswith("aigw-loopback")]


def test_stop_is_prompt_and_leaves_no_thread(provider):
    gateway = LoopbackGateway(tracer_provider=provider).start()
    idle = openai_client(gateway)
    idle.models.list()  # leaves a keep-alive connection open on a handler thread
    gateway.inject(Fault.slow(30))
    errors = []

    def slow_call():
        with openai_client(gateway) as client:
            try:
                client.chat.completions.create(**CHAT)
            except openai.APIError as error:
                errors.append(error)

    caller = threading.Thread(target=slow_call)
    caller.start()
    while len(gateway.requests) < 2:
        time.sleep(0.005)
    started = time.monotonic()
    gateway.stop()
    assert time.monotonic() - started < 1
    caller.join(2)
    assert isinstance(errors[0], openai.APIConnectionError)
    assert gateway_threads() == []
    idle.close()
    gateway.stop()  # a second stop does nothing
    with pytest.raises(RuntimeError):
        _ = gateway.url


def test_urls(gateway):
    assert gateway.url == f"http://127.0.0.1:{gateway.port}"
    assert gateway.openai_base_url == gateway.url + "/v1"
    assert gateway.anthropic_base_url == gateway.url
    with pytest.raises(RuntimeError):
        gateway.start()


def test_wait_idle_after_an_abandoned_stream(oai, gateway):
    gateway.stream_chunks = 5
    gateway.inject(Fault.slow(0, chunk_delay=0.01))
    with oai.chat.completions.create(**CHAT, stream=True) as stream:
        next(iter(stream))
    assert gateway.wait_idle(2)


def test_importable_without_pytest_sdks_or_otel_sdk():
    code = (
        "import sys\n"
        "for name in ('pytest', 'openai', 'anthropic', 'opentelemetry.sdk'):\n"
        "    sys.modules[name] = None\n"
        "from aigw_trace.testing import LoopbackGateway\n"
        "with LoopbackGateway() as gateway:\n"
        "    assert gateway.url\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
