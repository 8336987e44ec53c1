"""Per-call overhead of aigw-trace against the uninstrumented SDK and the *floor*, in one process.

The floor is what no instrumentation that records the GenAI conventions can avoid: one span with the
sampling-relevant attributes at start and the response attributes at end, one header inject, and the duration and
two token-usage histogram records. Each scenario runs over an in-process ``httpx2.MockTransport`` with realistic
bodies, with the OpenTelemetry SDK (``SimpleSpanProcessor`` into a discarding exporter, an in-memory metric reader).

Configurations run in interleaved blocks (order rotated per block) so drift hits them all alike; we report the
median and the 10th percentile of the per-block medians, and the added cost relative to the uninstrumented SDK as the
median of per-block differences: each block's cost minus the uninstrumented SDK's in the same round, so that a slow
stretch of the machine shifts both sides of a difference instead of one.

Run: ``nox -s bench`` (or ``python benchmarks/bench.py --help``).
"""

from __future__ import annotations

import argparse
import base64
import gc
import json
import os
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import openai
from opentelemetry import propagate
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, set_span_in_context

import aigw_trace
from aigw_trace import _attributes as A

CHUNKS = 50


class _Discard(SpanExporter):
    """Exports nowhere, so memory and time measure the instrumentation, not a growing in-memory list."""

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


# --- canned bodies ---

CHAT_BODY = json.dumps(
    {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": "gpt-4o-2024-08-06",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "The quick brown fox " * 12, "refusal": None,
                            "annotations": []},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 1117, "completion_tokens": 46, "total_tokens": 1163,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fc9f1d7035",
    }
).encode()  # fmt: skip


def _chat_stream_body(n: int) -> bytes:
    base = {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini-2024-07-18",
            "service_tier": "default", "system_fingerprint": "fp_1"}  # fmt: skip
    events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                    "finish_reason": None}]}]  # fmt: skip
    events += [{**base, "choices": [{"index": 0, "delta": {"content": f" word{i}"}, "finish_reason": None}]}
               for i in range(n - 3)]  # fmt: skip
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": {"prompt_tokens": 20, "completion_tokens": n, "total_tokens": 70}})
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


CHAT_STREAM_BODY = _chat_stream_body(CHUNKS)

MESSAGE_BODY = json.dumps(
    {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [{"type": "text", "text": "The quick brown fox " * 12}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 1117, "output_tokens": 46, "cache_read_input_tokens": 0,
                  "cache_creation_input_tokens": 0, "service_tier": "standard"},
    }
).encode()  # fmt: skip


def _message_stream_body(n: int) -> bytes:
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
                                              "model": "claude-haiku-4-5-20251001", "content": [],
                                              "stop_reason": None, "stop_sequence": None,
                                              "usage": {"input_tokens": 20, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]  # fmt: skip
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": f" word{i}"}}
               for i in range(n - 5)]  # fmt: skip
    events += [
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": n}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


MESSAGE_STREAM_BODY = _message_stream_body(CHUNKS)
MESSAGES = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say something."}]


BATCH_BODY = json.dumps({
    "id": "msgbatch_1", "type": "message_batch", "processing_status": "ended", "created_at": "2024-01-01T00:00:00Z",
    "expires_at": "2024-01-02T00:00:00Z", "ended_at": None, "archived_at": None, "cancel_initiated_at": None,
    "results_url": None,
    "request_counts": {"processing": 0, "succeeded": 1, "errored": 0, "canceled": 0, "expired": 0},
}).encode()  # fmt: skip
SEARCH_BODY = json.dumps({"object": "vector_store.search_results.page", "search_query": "q", "data": [],
                          "has_more": False, "next_page": None}).encode()  # fmt: skip
EMBEDDING = [((i * 37) % 101 - 50) / 512 for i in range(256)]
EMBEDDINGS_BODY = json.dumps({
    "object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8},
    "data": [{"object": "embedding", "index": 0,
              "embedding": base64.b64encode(struct.pack(f"<{len(EMBEDDING)}f", *EMBEDDING)).decode()}],
}).encode()  # fmt: skip
"""What the SDK asks for when the caller names no ``encoding_format``: base64 of little-endian float32s."""


def _handler(request: httpx2.Request) -> httpx2.Response:
    if "/batches/" in request.url.path:
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=BATCH_BODY)
    if "/vector_stores/" in request.url.path:
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=SEARCH_BODY)
    if request.url.path.endswith("/embeddings"):
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=EMBEDDINGS_BODY)
    if request.url.path.endswith("/messages"):
        if b'"stream":true' in request.content:
            return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=MESSAGE_STREAM_BODY)
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=MESSAGE_BODY)
    if b'"stream":true' in request.content:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=CHAT_STREAM_BODY)
    return httpx2.Response(200, headers={"content-type": "application/json"}, content=CHAT_BODY)


# --- the harness ---


@dataclass
class Harness:
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    client: openai.OpenAI
    anthropic: Any = None
    """Native tracing off: the uninstrumented baseline, and what aigw-trace instruments."""
    anthropic_native: Any = None
    """Native tracing on, into the same tracer provider: the SDK's own cost, for comparison."""

    @classmethod
    def create(cls) -> Harness:
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(_Discard()))
        mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
        http = httpx2.Client(transport=httpx2.MockTransport(_handler))
        client = openai.OpenAI(api_key="sk-bench", base_url="http://gateway.bench:4000/v1", http_client=http,
                               max_retries=0)  # fmt: skip
        harness = cls(tp, mp, client)
        try:
            import anthropic
        except ImportError:
            return harness
        common = {"api_key": "sk-bench", "base_url": "http://gateway.bench:4000", "max_retries": 0,
                  "http_client": httpx2.Client(transport=httpx2.MockTransport(_handler))}  # fmt: skip
        harness.anthropic = anthropic.Anthropic(**common, open_telemetry=False)
        harness.anthropic_native = anthropic.Anthropic(**common, open_telemetry={"tracer_provider": tp})
        return harness

    def instrument(self) -> None:
        aigw_trace.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def uninstrument(self) -> None:
        if aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry:
            aigw_trace.uninstrument()


def scenario_chat(h: Harness) -> Callable[[], Any]:
    create = h.client.chat.completions.create

    def run() -> Any:
        return create(model="gpt-4o", messages=MESSAGES, temperature=0.2)

    return run


def scenario_chat_stream(h: Harness) -> Callable[[], Any]:
    create = h.client.chat.completions.create

    def run() -> Any:
        for _ in create(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}):
            pass

    return run


ANTHROPIC_MESSAGES = [{"role": "user", "content": "Say something."}]


def scenario_message(h: Harness, client: Any = None) -> Callable[[], Any]:
    create = (client or h.anthropic).messages.create

    def run() -> Any:
        return create(model="claude-haiku-4-5", max_tokens=256, messages=ANTHROPIC_MESSAGES, system="Be terse.")

    return run


def scenario_message_stream(h: Harness, client: Any = None) -> Callable[[], Any]:
    create = (client or h.anthropic).messages.create

    def run() -> Any:
        for _ in create(model="claude-haiku-4-5", max_tokens=256, messages=ANTHROPIC_MESSAGES, stream=True):
            pass

    return run


def _floor_instruments(h: Harness) -> tuple[Any, Any, Any]:
    """The floors' tracer, duration histogram and token histogram, made once per floor (not per call)."""
    meter = h.meter_provider.get_meter("floor")
    duration = meter.create_histogram(A.METRIC_OPERATION_DURATION, unit="s",
                                      explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS))  # fmt: skip
    tokens = meter.create_histogram(A.METRIC_TOKEN_USAGE, unit="{token}",
                                    explicit_bucket_boundaries_advisory=list(A.TOKEN_BUCKETS))  # fmt: skip
    return h.tracer_provider.get_tracer("floor"), duration, tokens


def anthropic_floor_of(h: Harness, stream: bool) -> Callable[[], Any]:
    """The floor for an Anthropic call: the same unavoidable work around the native-off client."""
    tracer, duration, tokens = _floor_instruments(h)
    create = h.anthropic.messages.create
    start_attrs = {A.OPERATION_NAME: "chat", A.PROVIDER_NAME: "anthropic", A.REQUEST_MODEL: "claude-haiku-4-5",
                   A.SERVER_ADDRESS: "gateway.bench", A.SERVER_PORT: 4000}  # fmt: skip

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span("chat claude-haiku-4-5", kind=SpanKind.CLIENT, attributes=start_attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        kwargs = {"model": "claude-haiku-4-5", "max_tokens": 256, "messages": ANTHROPIC_MESSAGES,
                  "extra_headers": carrier}  # fmt: skip
        if stream:
            message_id = model = reason = None
            input_tokens = output_tokens = 0
            for event in create(stream=True, **kwargs):
                if event.type == "message_start":
                    message_id, model = event.message.id, event.message.model
                    input_tokens = event.message.usage.input_tokens
                elif event.type == "message_delta":
                    reason, output_tokens = event.delta.stop_reason, event.usage.output_tokens
        else:
            r = create(system="Be terse.", **kwargs)
            message_id, model, reason = r.id, r.model, r.stop_reason
            input_tokens, output_tokens = r.usage.input_tokens, r.usage.output_tokens
        span.set_attributes({A.RESPONSE_ID: message_id or "", A.RESPONSE_MODEL: model or "",
                             A.RESPONSE_FINISH_REASONS: [reason or ""], A.USAGE_INPUT_TOKENS: input_tokens,
                             A.USAGE_OUTPUT_TOKENS: output_tokens})  # fmt: skip
        span.end()
        attrs = {**start_attrs, A.RESPONSE_MODEL: model or ""}
        duration.record(time.perf_counter() - t0, attrs, context=ctx)
        tokens.record(input_tokens, {**attrs, A.TOKEN_TYPE: "input"}, context=ctx)
        tokens.record(output_tokens, {**attrs, A.TOKEN_TYPE: "output"}, context=ctx)

    return run


def floor_of(h: Harness, stream: bool) -> Callable[[], Any]:
    """The unavoidable work around an uninstrumented call, written out by hand."""
    tracer, duration, tokens = _floor_instruments(h)
    create = h.client.chat.completions.create
    start_attrs = {A.OPERATION_NAME: "chat", A.PROVIDER_NAME: "openai", A.REQUEST_MODEL: "gpt-4o",
                   A.SERVER_ADDRESS: "gateway.bench", A.SERVER_PORT: 4000}  # fmt: skip

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=start_attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        if stream:
            usage = last = None
            for chunk in create(model="gpt-4o", messages=MESSAGES, stream=True,
                                stream_options={"include_usage": True}, extra_headers=carrier):  # fmt: skip
                last = chunk
                if chunk.usage is not None:
                    usage = chunk.usage
            response = last
            finish = ["stop"]
        else:
            response = create(model="gpt-4o", messages=MESSAGES, temperature=0.2, extra_headers=carrier)
            usage = response.usage
            finish = [c.finish_reason for c in response.choices]
        response_model = response.model  # type: ignore[union-attr]
        span.set_attributes({A.RESPONSE_ID: response.id, A.RESPONSE_MODEL: response_model,  # type: ignore[union-attr]
                             A.RESPONSE_FINISH_REASONS: finish, A.USAGE_INPUT_TOKENS: usage.prompt_tokens,
                             A.USAGE_OUTPUT_TOKENS: usage.completion_tokens})  # fmt: skip
        span.end()
        # OpenAI's metrics also carry the response's service tier and system fingerprint (openai.md).
        attrs = {**start_attrs, A.RESPONSE_MODEL: response_model,
                 A.OPENAI_RESPONSE_SERVICE_TIER: response.service_tier,  # type: ignore[union-attr]
                 A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: response.system_fingerprint}  # type: ignore[union-attr]  # fmt: skip
        duration.record(time.perf_counter() - t0, attrs, context=ctx)
        tokens.record(usage.prompt_tokens, {**attrs, A.TOKEN_TYPE: "input"}, context=ctx)
        tokens.record(usage.completion_tokens, {**attrs, A.TOKEN_TYPE: "output"}, context=ctx)

    return run


class StreamFloorRecords:
    """What a stream floor records when its stream ends, and with what, made once per floor: shared by
    :func:`stream_floor_of` and ``scale.py``'s async stream floor, which differ only in their chunk loop."""

    def __init__(self, h: Any, provider: str) -> None:
        self.tracer, self.duration, self.tokens = _floor_instruments(h)
        self.ttfc = h.meter_provider.get_meter("floor").create_histogram(
            A.METRIC_TIME_TO_FIRST_CHUNK, unit="s", explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS)
        )
        self.model = "gpt-4o" if provider == "openai" else "claude-haiku-4-5"
        self.start_attrs = {A.OPERATION_NAME: "chat", A.PROVIDER_NAME: provider, A.REQUEST_MODEL: self.model,
                            A.SERVER_ADDRESS: "gateway.bench", A.SERVER_PORT: 4000}  # fmt: skip

    def end(self, span: Any, ctx: Any, t0: float, first_at: float,
            response: tuple[Any, Any, list[str], int, int, dict[str, Any]]) -> None:  # fmt: skip
        """End the span with the stream's summary; make the four records in its context (their exemplars name it),
        with the response attributes the provider's metrics also carry (OpenAI: service tier, system fingerprint)."""
        response_id, response_model, finish, input_tokens, output_tokens, metric_extra = response
        span.set_attributes({A.RESPONSE_ID: response_id or "", A.RESPONSE_MODEL: response_model or "",
                             A.RESPONSE_FINISH_REASONS: finish, A.USAGE_INPUT_TOKENS: input_tokens,
                             A.USAGE_OUTPUT_TOKENS: output_tokens})  # fmt: skip
        span.end()
        attrs = {**self.start_attrs, A.RESPONSE_MODEL: response_model or "", **metric_extra}
        self.duration.record(time.perf_counter() - t0, attrs, context=ctx)
        self.ttfc.record(first_at - t0, attrs, context=ctx)
        self.tokens.record(input_tokens, {**attrs, A.TOKEN_TYPE: "input"}, context=ctx)
        self.tokens.record(output_tokens, {**attrs, A.TOKEN_TYPE: "output"}, context=ctx)


def stream_floor_of(h: Harness, provider: str) -> Callable[[], Any]:
    """The least an instrumentation that records a stream as the conventions ask can do, written out by hand.

    The floor of ``SCENARIOS`` reads each chunk in the caller's own loop and records no time to the first chunk, so
    its premium over the plain call is not one an instrumentation can have. This one adds what an instrumentation
    cannot avoid on a stream: a generator in front of the SDK's (the caller iterates the stream, not the
    instrumentation), the finish reason and usage read off the chunks (OpenAI: the choice's finish reason, the usage
    chunk; Anthropic: the event's type, the start and delta events), and the time-to-first-chunk record the
    conventions recommend for a stream, as aigw-trace makes it. The span ends when the stream does.
    ``nox -s bench`` times it beside the stream (config ``stream floor``) and ``stream_anatomy.py --premium`` counts
    its premium over the plain call's floor against aigw-trace's."""
    records = StreamFloorRecords(h, provider)
    tracer, model, start_attrs, end = records.tracer, records.model, records.start_attrs, records.end
    openai_call = provider == "openai"

    def observe_chunks(chunks: Any, span: Any, ctx: Any, t0: float) -> Any:
        # scale.py's _stream_floor has the async twin of this loop: a shared body would cost a call per chunk.
        first_at = 0.0
        response_id = response_model = usage = None
        finish: list[str] = []
        metric_extra: dict[str, Any] = {}
        for chunk in chunks:
            if not first_at:
                first_at = time.perf_counter()
                response_id, response_model = chunk.id, chunk.model
                metric_extra = {A.OPENAI_RESPONSE_SERVICE_TIER: chunk.service_tier,
                                A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: chunk.system_fingerprint}  # fmt: skip
            choices = chunk.choices
            if choices:
                reason = choices[0].finish_reason
                if reason is not None:
                    finish.append(reason)
            else:
                usage = chunk.usage
            yield chunk
        end(span, ctx, t0, first_at,
            (response_id, response_model, finish, usage.prompt_tokens, usage.completion_tokens,
             metric_extra))  # fmt: skip

    def observe_events(events: Any, span: Any, ctx: Any, t0: float) -> Any:
        first_at = 0.0
        message_id = response_model = None
        finish: list[str] = []
        input_tokens = output_tokens = 0
        for event in events:
            if not first_at:
                first_at = time.perf_counter()
            kind = event.type
            if kind == "message_start":
                message = event.message
                message_id, response_model, input_tokens = message.id, message.model, message.usage.input_tokens
            elif kind == "message_delta":
                finish.append(event.delta.stop_reason)
                output_tokens = event.usage.output_tokens
            yield event
        end(span, ctx, t0, first_at, (message_id, response_model, finish, input_tokens, output_tokens, {}))

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=start_attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        if openai_call:
            options = {"include_usage": True}
            chunks = h.client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True, stream_options=options, extra_headers=carrier
            )
            items = observe_chunks(chunks, span, ctx, t0)
        else:
            events = h.anthropic.messages.create(
                model=model, max_tokens=256, messages=ANTHROPIC_MESSAGES, stream=True, extra_headers=carrier
            )
            items = observe_events(events, span, ctx, t0)
        for _ in items:
            pass

    return run


def scenario_embeddings(h: Harness) -> Callable[[], Any]:
    create = h.client.embeddings.create

    def run() -> Any:
        return create(model="text-embedding-3-small", input="The quick brown fox", dimensions=256)

    return run


def embeddings_floor_of(h: Harness) -> Callable[[], Any]:
    """The floor for an embeddings call: a span with the start attributes and the response's model and input
    tokens, injection, and the duration and input-token records (an embeddings response has no output tokens)."""
    tracer, duration, tokens = _floor_instruments(h)
    create = h.client.embeddings.create
    start_attrs = {A.OPERATION_NAME: "embeddings", A.PROVIDER_NAME: "openai",
                   A.REQUEST_MODEL: "text-embedding-3-small", A.SERVER_ADDRESS: "gateway.bench",
                   A.SERVER_PORT: 4000}  # fmt: skip

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span("embeddings text-embedding-3-small", kind=SpanKind.CLIENT, attributes=start_attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        r = create(model="text-embedding-3-small", input="The quick brown fox", dimensions=256,
                   extra_headers=carrier)  # fmt: skip
        input_tokens = r.usage.prompt_tokens
        span.set_attributes({A.RESPONSE_MODEL: r.model, A.USAGE_INPUT_TOKENS: input_tokens})
        span.end()
        attrs = {**start_attrs, A.RESPONSE_MODEL: r.model}
        duration.record(time.perf_counter() - t0, attrs, context=ctx)
        tokens.record(input_tokens, {**attrs, A.TOKEN_TYPE: "input"}, context=ctx)
        return r

    return run


def scenario_batch(h: Harness, client: Any = None) -> Callable[[], Any]:
    """A call whose span carries ids of its own (a dynamic route): anthropic ``messages.batches.retrieve``."""
    retrieve = (client or h.anthropic).messages.batches.retrieve

    def run() -> Any:
        return retrieve("msgbatch_1")

    return run


def scenario_search(h: Harness) -> Callable[[], Any]:
    """A dynamic route on OpenAI: ``vector_stores.search`` is a ``retrieval {store id}``."""
    search = h.client.vector_stores.search

    def run() -> Any:
        return search("vs_1", query="q")

    return run


def id_route_floor_of(h: Harness, openai_route: bool) -> Callable[[], Any]:
    """The unavoidable work around a call with its own ids: a span with them, injection, one duration record."""
    tracer = h.tracer_provider.get_tracer("floor")
    duration = h.meter_provider.get_meter("floor").create_histogram(A.METRIC_OPERATION_DURATION, unit="s")
    if openai_route:
        name, call = "retrieval vs_1", h.client.vector_stores.search
        attrs = {A.OPERATION_NAME: "retrieval", A.PROVIDER_NAME: "openai", "gen_ai.data_source.id": "vs_1"}
    else:
        name, call = "messages.batches.retrieve", h.anthropic.messages.batches.retrieve
        attrs = {A.OPERATION_NAME: "messages.batches.retrieve", A.PROVIDER_NAME: "anthropic",
                 "anthropic.message_batch.id": "msgbatch_1"}  # fmt: skip

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        result = (
            call("vs_1", query="q", extra_headers=carrier)
            if openai_route
            else call("msgbatch_1", extra_headers=carrier)
        )
        span.end()
        duration.record(time.perf_counter() - t0, attrs, context=ctx)
        return result

    return run


Make = Callable[[Harness], Callable[[], Any]]

SCENARIOS: dict[str, tuple[Make, Make, bool, Make | None]] = {
    "openai chat": (scenario_chat, lambda h: floor_of(h, False), False, None),
    f"openai chat stream ({CHUNKS} chunks)": (scenario_chat_stream, lambda h: floor_of(h, True), True, None),
    "anthropic message": (
        scenario_message, lambda h: anthropic_floor_of(h, False), False,
        lambda h: scenario_message(h, h.anthropic_native),
    ),
    f"anthropic stream ({CHUNKS} events)": (
        scenario_message_stream, lambda h: anthropic_floor_of(h, True), True,
        lambda h: scenario_message_stream(h, h.anthropic_native),
    ),
    "openai embeddings": (scenario_embeddings, embeddings_floor_of, False, None),
    "openai vector store search (ids in the span)": (
        scenario_search, lambda h: id_route_floor_of(h, True), False, None,
    ),
    "anthropic batch retrieve (ids in the span)": (
        scenario_batch, lambda h: id_route_floor_of(h, False), False, lambda h: scenario_batch(h, h.anthropic_native),
    ),
}  # fmt: skip
"""name → (the call, its floor, whether it streams, the SDK's native tracing alone if it has any)."""


def _time_block(fn: Callable[[], Any], calls: int) -> float:
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def measure(h: Harness, blocks: int, calls: int, scenarios: Sequence[str] = ()) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for name, (make, make_floor, stream, make_native) in SCENARIOS.items():
        if (scenarios and name not in scenarios) or (name.startswith("anthropic") and h.anthropic is None):
            continue
        configs: dict[str, tuple[Callable[[], Any], bool]] = {
            "uninstrumented": (make(h), False),
            "floor": (make_floor(h), False),
            "aigw-trace": (make(h), True),
        }
        if make_native is not None:
            configs["sdk native"] = (make_native(h), False)
        if stream:
            configs["stream floor"] = (stream_floor_of(h, name.split()[0]), False)
        medians: dict[str, list[float]] = {c: [] for c in configs}
        order = list(configs)
        for fn, instrumented in configs.values():  # warm up
            (h.instrument if instrumented else h.uninstrument)()
            _time_block(fn, max(10, calls // 5))
        for block in range(blocks):
            rotated = order[block % len(order) :] + order[: block % len(order)]
            for config in rotated:
                fn, instrumented = configs[config]
                (h.instrument if instrumented else h.uninstrument)()
                gc.collect()
                medians[config].append(_time_block(fn, calls))
        h.uninstrument()
        row: dict[str, float] = {}
        for config, values in medians.items():
            ordered = sorted(values)
            row[f"{config} median_us"] = statistics.median(values) * 1e6
            row[f"{config} p10_us"] = ordered[max(0, len(ordered) // 10)] * 1e6
        bare = medians["uninstrumented"]
        for config in ("floor", "aigw-trace", "sdk native", "stream floor"):
            if config in medians:
                paired = [m - b for m, b in zip(medians[config], bare, strict=True)]
                row[f"{config} added_us"] = statistics.median(paired) * 1e6
        row["ratio to floor"] = row["aigw-trace added_us"] / row["floor added_us"] if row["floor added_us"] > 0 else 0
        if stream:
            row["excess per chunk_us"] = (row["aigw-trace added_us"] - 1.25 * row["floor added_us"]) / CHUNKS
        results[name] = row
    return results


STREAM_PAIRS = {
    "openai": ("openai chat", f"openai chat stream ({CHUNKS} chunks)"),
    "anthropic": ("anthropic message", f"anthropic stream ({CHUNKS} events)"),
}
"""provider → (its plain call, its stream): a stream's premium is what aigw-trace adds to the stream minus what it
adds to the plain call (issue 18 asks for it to halve)."""


def stream_premiums(results: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """What a stream costs beyond a plain call, added time against added time, for aigw-trace, the floor, and the
    stream floor (:func:`stream_floor_of`, against the plain call's floor)."""
    out = {}
    for provider, (plain, stream) in STREAM_PAIRS.items():
        if plain in results and stream in results:
            out[provider] = {
                f"{config}_us": results[stream][f"{config} added_us"] - results[plain][f"{config} added_us"]
                for config in ("aigw-trace", "floor")
            }
            out[provider]["stream floor_us"] = (
                results[stream]["stream floor added_us"] - results[plain]["floor added_us"]
            )
    return out


def memory_growth(h: Harness, calls: int, checkpoints: int = 10) -> dict[str, Any]:
    """Live heap across ``calls`` instrumented calls (half plain, half 50-chunk streams) after a warm-up.

    Read with ``sys.getallocatedblocks()`` after a full collection at each checkpoint: unlike ``tracemalloc`` it
    costs nothing per allocation, so the full 100,000 calls run in minutes. Flat means the second half of the run
    adds no more than a small constant (interning, the SDK's own caches), not a share of every call.
    """
    h.instrument()
    run = scenario_chat(h)
    stream = scenario_chat_stream(h)
    for _ in range(500):
        run()
        stream()
    gc.collect()
    points = [sys.getallocatedblocks()]
    step = max(1, calls // checkpoints)
    for i in range(1, calls + 1):
        run() if i % 2 else stream()
        if i % step == 0:
            gc.collect()
            points.append(sys.getallocatedblocks())
    h.uninstrument()
    half = points[len(points) // 2]
    return {
        "calls": calls,
        "blocks": points,
        "growth_blocks": points[-1] - points[0],
        "second_half_growth_blocks": points[-1] - half,
        "flat": points[-1] - half <= 1000,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=60)
    parser.add_argument("--calls", type=int, default=50, help="calls per block")
    parser.add_argument("--scenarios", nargs="*", default=[], help="default: all")
    parser.add_argument("--memory-calls", type=int, default=100_000, help="0 to skip the memory check")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "bench.json")
    args = parser.parse_args(argv)

    h = Harness.create()
    load_before = os.getloadavg()
    results = measure(h, args.blocks, args.calls, args.scenarios)
    # Wall time on a shared machine means little without the load it was measured under.
    print(f"load average (1 min): {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{'scenario':<32} {'bare':>9} {'floor+':>9} {'aigw+':>9} {'ratio':>6} {'native+':>9}  per-chunk excess")
    for name, row in results.items():
        chunk = f"{row['excess per chunk_us']:+.2f} µs" if "excess per chunk_us" in row else ""
        native = f"{row['sdk native added_us']:>7.0f}µs" if "sdk native added_us" in row else f"{'-':>9}"
        print(f"{name:<32} {row['uninstrumented median_us']:>7.0f}µs {row['floor added_us']:>7.0f}µs "
              f"{row['aigw-trace added_us']:>7.0f}µs {row['ratio to floor']:>6.2f} {native}  {chunk}")  # fmt: skip
    premiums = stream_premiums(results)
    for name, premium in premiums.items():
        print(f"{name}: a stream's premium over a plain call: aigw-trace {premium['aigw-trace_us']:+.0f} µs, "
              f"floor {premium['floor_us']:+.0f} µs, stream floor {premium['stream floor_us']:+.0f} µs")  # fmt: skip
    output: dict[str, Any] = {
        "python": sys.version.split()[0],
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "blocks": args.blocks,
        "calls_per_block": args.calls,
        "scenarios": results,
        "stream_premiums": premiums,
    }
    if args.memory_calls:
        memory = output["memory"] = memory_growth(h, args.memory_calls)
        print(f"memory: {memory['growth_blocks']:+d} allocated blocks over {args.memory_calls} calls "
              f"({memory['second_half_growth_blocks']:+d} in the second half): "
              f"{'flat' if memory['flat'] else 'GROWING'}")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2))
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
