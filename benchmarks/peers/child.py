"""One peer's side of ``benchmarks/peers.py``, run with the Python of that peer's virtualenv.

It builds bench.py's harness by hand (the same canned bodies, ``SimpleSpanProcessor`` into a discarding exporter, an
in-memory metric reader) over whichever HTTP library the installed SDK uses: ``httpx2`` for openai 3.x and anthropic
1.x/2.x, ``httpx`` for openai 1.x/2.x. Three configurations per scenario: ``bare`` (nothing installed), ``aigw-trace``
and ``peer`` (the peer's instrumentor, or for ``anthropic-native`` a client with the SDK's own tracing on).

Modes (one JSON object on stdout, except ``count``):

- ``info``: versions and what the peer declares it supports;
- ``record``: one call per scenario into in-memory exporters: spans, attributes of the GenAI span, metric points,
  whether ``traceparent`` reached the HTTP request, whether prompt text appears on a span;
- ``wall``: paired wall time, interleaved blocks as in bench.py;
- ``count``: warm up, then the calls inside ``functools.reduce`` (the parent runs this under callgrind).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import gc
import importlib
import importlib.metadata as metadata
import json
import statistics
import struct
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from opentelemetry import propagate
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, set_span_in_context

import aigw_trace
import bench
from aigw_trace import _attributes as A

INSTRUMENTORS = {
    "openai-v2": "opentelemetry.instrumentation.openai_v2:OpenAIInstrumentor",
    "genai-openai": "opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor",
    "genai-anthropic": "opentelemetry.instrumentation.genai.anthropic:AnthropicInstrumentor",
    "openinference-openai": "openinference.instrumentation.openai:OpenAIInstrumentor",
    "openinference-anthropic": "openinference.instrumentation.anthropic:AnthropicInstrumentor",
    "openllmetry-openai": "opentelemetry.instrumentation.openai:OpenAIInstrumentor",
    "openllmetry-anthropic": "opentelemetry.instrumentation.anthropic:AnthropicInstrumentor",
}

EMBEDDING = [((i * 37) % 101 - 50) / 512 for i in range(256)]
EMBEDDINGS_FLOAT = json.dumps({
    "object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8},
    "data": [{"object": "embedding", "index": 0, "embedding": EMBEDDING}],
}).encode()  # fmt: skip
EMBEDDINGS_B64 = json.dumps({
    "object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8},
    "data": [{"object": "embedding", "index": 0,
              "embedding": base64.b64encode(struct.pack(f"<{len(EMBEDDING)}f", *EMBEDDING)).decode()}],
}).encode()  # fmt: skip
RESPONSE_BODY = json.dumps({
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "object": "response", "created_at": 1741476542,
    "status": "completed", "error": None, "incomplete_details": None, "instructions": "Be terse.",
    "max_output_tokens": None, "model": "gpt-4o-2024-08-06",
    "output": [{"type": "message", "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e6", "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "The quick brown fox " * 12, "annotations": []}]}],
    "parallel_tool_calls": True, "previous_response_id": None, "reasoning": {"effort": None, "summary": None},
    "store": True, "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
    "top_p": 1.0, "truncation": "disabled",
    "usage": {"input_tokens": 36, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 87,
              "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 123},
    "user": None, "metadata": {},
}).encode()  # fmt: skip

TRACEPARENTS: list[bool] = []
"""One entry per HTTP request seen by the transport: whether it carried ``traceparent``."""


def _route(path: str, content: bytes) -> tuple[str, bytes]:
    body = json.loads(content) if content else {}
    stream = isinstance(body, dict) and body.get("stream") is True
    if "/batches/" in path:
        return "application/json", bench.BATCH_BODY
    if "/vector_stores/" in path:
        return "application/json", bench.SEARCH_BODY
    if path.endswith("/embeddings"):
        return "application/json", EMBEDDINGS_B64 if body.get("encoding_format") == "base64" else EMBEDDINGS_FLOAT
    if path.endswith("/responses"):
        return "application/json", RESPONSE_BODY
    if path.endswith("/messages"):
        return ("text/event-stream", bench.MESSAGE_STREAM_BODY) if stream else ("application/json", bench.MESSAGE_BODY)
    return ("text/event-stream", bench.CHAT_STREAM_BODY) if stream else ("application/json", bench.CHAT_BODY)


def _transport(lib: Any) -> Any:
    def handler(request: Any) -> Any:
        TRACEPARENTS.append("traceparent" in request.headers)
        ctype, body = _route(request.url.path, request.content)
        return lib.Response(200, headers={"content-type": ctype}, content=body)

    return lib.MockTransport(handler)


def _sdk_classes() -> list[type]:
    """The classes of the SDKs' client, resource and stream modules (not their generated types): where peers patch."""
    found = []
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(("openai", "anthropic")) or ".types" in name:
            continue
        found += [v for v in vars(module).values() if isinstance(v, type) and v.__module__ == name]
    return found


def _major(dist: str) -> int:
    return int(metadata.version(dist).split(".")[0])


class Harness:
    def __init__(self, peer: str, record: bool) -> None:
        import anthropic
        import httpx2
        import openai

        self.peer = peer
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans if record else bench._Discard()))
        self.metrics = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.metrics])
        if _major("openai") >= 3:
            openai_http: Any = httpx2.Client(transport=_transport(httpx2))
        else:
            import httpx

            openai_http = httpx.Client(transport=_transport(httpx))
        self.openai = openai.OpenAI(api_key="sk-bench", base_url="http://gateway.bench:4000/v1",
                                    http_client=openai_http, max_retries=0)  # fmt: skip
        common = {"api_key": "sk-bench", "base_url": "http://gateway.bench:4000", "max_retries": 0,
                  "http_client": httpx2.Client(transport=_transport(httpx2))}  # fmt: skip
        self.native_tracing = "open_telemetry" in anthropic.Anthropic.__init__.__code__.co_varnames
        if self.native_tracing:
            # Off for the baseline and every instrumentation but the SDK's own, as bench.py does.
            self.anthropic = anthropic.Anthropic(**common, open_telemetry=False)
            self.anthropic_native = anthropic.Anthropic(
                **common, open_telemetry={"tracer_provider": self.tracer_provider}
            )
        else:
            self.anthropic = self.anthropic_native = anthropic.Anthropic(**common)
        self.instrumentor: Any = None
        self._aigw_config: str | None = None
        if peer in INSTRUMENTORS:
            module, _, name = INSTRUMENTORS[peer].partition(":")
            self.instrumentor = getattr(importlib.import_module(module), name)()
        # The SDKs import resource modules on first access: import every one the scenarios use before the snapshot.
        for resource in (self.openai.chat.completions, self.openai.embeddings, self.openai.responses,
                         self.openai.vector_stores, self.anthropic.messages.batches):  # fmt: skip
            assert resource is not None
        self.pristine = {cls: dict(vars(cls)) for cls in _sdk_classes()}

    def _restore(self) -> None:
        """Put the SDK classes back as they were before any instrumentation.

        Not every peer's ``uninstrument()`` does: OpenInference's leaves the original ``request`` assigned on
        ``openai.OpenAI`` itself, which then shadows the base class method that aigw-trace patches (aigw-trace
        instrumented after it recorded nothing), and OpenLLMetry's leaves its wrappers in place (the "bare" SDK
        after it still made OpenLLMetry spans). Without this, every figure after the peer's first block was wrong.
        """
        for cls, saved in self.pristine.items():
            current = vars(cls)
            for key in [k for k in current if k not in saved]:
                with contextlib.suppress(AttributeError, TypeError):
                    delattr(cls, key)
            for key, value in saved.items():
                if current.get(key) is not value:
                    with contextlib.suppress(AttributeError, TypeError):
                        setattr(cls, key, value)

    def toggle(self, config: str) -> None:
        """Make exactly ``config``'s instrumentation active (``aigw-trace-spans``: aigw-trace with its metrics going
        to the API's no-op meter provider; ``aigw-trace-local``: without sending ``traceparent``; each records only
        what a peer that records less records)."""
        if self._aigw_config != config and aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry:
            aigw_trace.uninstrument()
        if self.instrumentor is not None and config != "peer" and self.instrumentor.is_instrumented_by_opentelemetry:
            self.instrumentor.uninstrument()
            self._restore()
        self._aigw_config = config
        if config == "aigw-trace":
            aigw_trace.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)
        elif config == "aigw-trace-spans":
            aigw_trace.instrument(tracer_provider=self.tracer_provider, meter_provider=NoOpMeterProvider())
        elif config == "aigw-trace-local":
            aigw_trace.instrument(
                tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, propagate=False
            )
        elif config == "peer" and self.instrumentor is not None:
            self.instrumentor.instrument(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider)

    def call(self, scenario: str, config: str) -> Callable[[], Any]:
        """The scenario's call; ``anthropic-native``'s peer configuration uses the client with native tracing on;
        ``aigw-trace-floor`` is ``bench.py``'s hand-written floor of the scenario (with nothing instrumented), or the
        bare call where bench.py has none (``peers.py`` reports it only where it has one)."""
        if config == "aigw-trace-floor" and scenario in FLOORS:
            # bench.py's floors read these four from its harness: the same objects here.
            harness = SimpleNamespace(
                client=self.openai, anthropic=self.anthropic, tracer_provider=self.tracer_provider,
                meter_provider=self.meter_provider,
            )  # fmt: skip
            return FLOORS[scenario](harness)
        client = self.anthropic_native if (config == "peer" and self.peer == "anthropic-native") else self.anthropic
        return SCENARIOS[scenario](self, client)


def _chat(h: Harness, _: Any) -> Callable[[], Any]:
    create = h.openai.chat.completions.create
    return lambda: create(model="gpt-4o", messages=bench.MESSAGES, temperature=0.2)


def _chat_stream(h: Harness, _: Any) -> Callable[[], Any]:
    create = h.openai.chat.completions.create

    def run() -> None:
        for _ in create(model="gpt-4o", messages=bench.MESSAGES, stream=True, stream_options={"include_usage": True}):
            pass

    return run


def _embeddings(h: Harness, _: Any) -> Callable[[], Any]:
    create = h.openai.embeddings.create
    return lambda: create(model="text-embedding-3-small", input="The quick brown fox", dimensions=256)


def _responses(h: Harness, _: Any) -> Callable[[], Any]:
    create = h.openai.responses.create
    return lambda: create(model="gpt-4o", input="Say something.", instructions="Be terse.")


def _search(h: Harness, _: Any) -> Callable[[], Any]:
    search = h.openai.vector_stores.search
    return lambda: search("vs_1", query="q")


def _message(h: Harness, client: Any) -> Callable[[], Any]:
    create = client.messages.create
    return lambda: create(model="claude-haiku-4-5", max_tokens=256, messages=bench.ANTHROPIC_MESSAGES,
                          system="Be terse.")  # fmt: skip


def _message_stream(h: Harness, client: Any) -> Callable[[], Any]:
    create = client.messages.create

    def run() -> None:
        for _ in create(model="claude-haiku-4-5", max_tokens=256, messages=bench.ANTHROPIC_MESSAGES, stream=True):
            pass

    return run


def _batch(h: Harness, client: Any) -> Callable[[], Any]:
    retrieve = client.messages.batches.retrieve
    return lambda: retrieve("msgbatch_1")


SCENARIOS: dict[str, Callable[[Harness, Any], Callable[[], Any]]] = {
    "chat": _chat,
    "chat-stream": _chat_stream,
    "embeddings": _embeddings,
    "responses": _responses,
    "search": _search,
    "message": _message,
    "message-stream": _message_stream,
    "batch": _batch,
}


def _responses_floor(h: Any) -> Callable[[], Any]:
    """The Responses call's floor, as bench.py writes the chat call's: a span with the five start attributes and the
    response's id, model, status and token counts, one inject, the duration and two token-usage records."""
    tracer, duration, tokens = bench._floor_instruments(h)
    create = h.client.responses.create
    start_attrs = {A.OPERATION_NAME: "chat", A.PROVIDER_NAME: "openai", A.REQUEST_MODEL: "gpt-4o",
                   A.SERVER_ADDRESS: "gateway.bench", A.SERVER_PORT: 4000}  # fmt: skip

    def run() -> Any:
        t0 = time.perf_counter()
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=start_attrs)
        carrier: dict[str, str] = {}
        ctx = set_span_in_context(span)  # the records' too: their exemplars name the span
        propagate.inject(carrier, context=ctx)
        r = create(model="gpt-4o", input="Say something.", instructions="Be terse.", extra_headers=carrier)
        usage = r.usage
        span.set_attributes({A.RESPONSE_ID: r.id, A.RESPONSE_MODEL: r.model, A.RESPONSE_FINISH_REASONS: [r.status],
                             A.USAGE_INPUT_TOKENS: usage.input_tokens,
                             A.USAGE_OUTPUT_TOKENS: usage.output_tokens})  # fmt: skip
        span.end()
        attrs = {**start_attrs, A.RESPONSE_MODEL: r.model}
        duration.record(time.perf_counter() - t0, attrs, context=ctx)
        tokens.record(usage.input_tokens, {**attrs, A.TOKEN_TYPE: "input"}, context=ctx)
        tokens.record(usage.output_tokens, {**attrs, A.TOKEN_TYPE: "output"}, context=ctx)
        return r

    return run


FLOORS: dict[str, Callable[[Any], Callable[[], Any]]] = {
    "chat": lambda h: bench.floor_of(h, False),
    "embeddings": bench.embeddings_floor_of,
    "responses": _responses_floor,
    "message": lambda h: bench.anthropic_floor_of(h, False),
}
"""The scenarios' hand-written floors: bench.py's, and the Responses call's written the same way (the same calls as
``_chat``, ``_embeddings``, ``_responses`` and ``_message``)."""


# --- modes ---


def info(peer: str) -> dict[str, Any]:
    dists = ["openai", "anthropic", "opentelemetry-sdk", "opentelemetry-api", "aigw-trace", "httpx", "httpx2",
             "opentelemetry-util-genai", "wrapt"]  # fmt: skip
    out: dict[str, Any] = {"python": sys.version.split()[0], "versions": {}}
    peer_dists = {
        "openai-v2": "opentelemetry-instrumentation-openai-v2",
        "genai-openai": "opentelemetry-instrumentation-genai-openai",
        "genai-anthropic": "opentelemetry-instrumentation-genai-anthropic",
        "openinference-openai": "openinference-instrumentation-openai",
        "openinference-anthropic": "openinference-instrumentation-anthropic",
        "openllmetry-openai": "opentelemetry-instrumentation-openai",
        "openllmetry-anthropic": "opentelemetry-instrumentation-anthropic",
    }
    if peer in peer_dists:
        dists.append(peer_dists[peer])
        out["declares"] = [
            r for r in metadata.requires(peer_dists[peer]) or [] if r.startswith(("openai", "anthropic"))
        ]
    for dist in dists:
        try:
            out["versions"][dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out["versions"][dist] = None
    return out


def _has_text(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return text in value
    return isinstance(value, (list, tuple)) and any(_has_text(v, text) for v in value)


def record(peer: str, scenarios: Sequence[str]) -> dict[str, Any]:
    """What one call records, per scenario (the first call of the process, so cumulative metrics are this call's)."""
    out: dict[str, Any] = {}
    for scenario in scenarios:
        h = Harness(peer, record=True)
        config = "aigw-trace" if peer == "aigw-trace" else "peer"
        h.toggle(config)
        TRACEPARENTS.clear()
        try:
            h.call(scenario, config)()
        except Exception as exc:
            out[scenario] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            h.toggle("bare")
            continue
        finally:
            h.toggle("bare")
        spans = h.spans.get_finished_spans()
        # The GenAI span: the one the instrumentation made for the call (the one with the most attributes).
        main = max(spans, key=lambda s: len(s.attributes or {}), default=None)
        metrics: dict[str, int] = {}
        data = h.metrics.get_metrics_data()
        for rm in data.resource_metrics if data else []:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    points = list(metric.data.data_points)
                    metrics[metric.name] = sum(getattr(p, "count", 1) for p in points)
        out[scenario] = {
            "spans": len(spans),
            "span_names": [s.name for s in spans],
            "attrs": len(main.attributes or {}) if main else 0,
            "attr_keys": sorted(main.attributes or {}) if main else [],
            "events": sum(len(s.events) for s in spans),
            "metrics": metrics,
            "traceparent": bool(TRACEPARENTS) and all(TRACEPARENTS),
            "content": any(
                _has_text(v, "Say something") or _has_text(v, "quick brown fox")
                for s in spans
                for v in list((s.attributes or {}).values())
                + [a for e in s.events for a in (e.attributes or {}).values()]
            ),
        }
    return out


def wall(peer: str, scenarios: Sequence[str], configs: Sequence[str], blocks: int, calls: int) -> dict[str, Any]:
    """Per scenario: the bare median and each configuration's added µs (median of per-block differences)."""
    h = Harness(peer, record=False)
    out: dict[str, Any] = {}
    for scenario in scenarios:
        # The call is looked up after toggling: a peer that patches the resource method (openai-v2 does) is bypassed
        # by a bound method taken before it was instrumented.
        for config in configs:  # warm up
            h.toggle(config)
            bench._time_block(h.call(scenario, config), max(10, calls // 2))
        medians: dict[str, list[float]] = {c: [] for c in configs}
        order = list(configs)
        for block in range(blocks):
            for config in order[block % len(order) :] + order[: block % len(order)]:
                h.toggle(config)
                fn = h.call(scenario, config)
                gc.collect()
                medians[config].append(bench._time_block(fn, calls))
        h.toggle("bare")
        row = {"bare_us": statistics.median(medians["bare"]) * 1e6}
        for config in configs:
            if config != "bare":
                paired = [m - b for m, b in zip(medians[config], medians["bare"], strict=True)]
                row[f"{config}_added_us"] = statistics.median(paired) * 1e6
        out[scenario] = row
    return out


def count(peer: str, scenarios: Sequence[str], configs: Sequence[str], calls: int) -> None:
    """Each (scenario, configuration) in turn: warm up, then ``calls`` calls inside one ``functools.reduce``.

    Run under callgrind with ``--toggle-collect`` and ``--dump-after`` on ``functools_reduce``: only the reduce calls
    are counted (imports and warm-up are not), one dump each, in this order. One process for all of them, because
    importing the SDKs under valgrind takes minutes on a loaded machine.
    """
    h = Harness(peer, record=False)
    for scenario in scenarios:
        for config in configs:
            h.toggle(config)
            fn = h.call(scenario, config)  # after toggling: see wall()
            for _ in range(10):  # the warm-up runs under valgrind too, uncounted but slow
                fn()
            # A full collection's cost depends on the whole heap and on when it happens to trigger: freezing what
            # the warm-up left keeps that out, as instructions.py does.
            gc.collect()
            gc.freeze()
            functools.reduce(lambda _, __: fn(), range(calls), None)
    h.toggle("bare")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["info", "record", "wall", "count"])
    parser.add_argument("--peer", required=True)
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS))
    parser.add_argument("--configs", nargs="*", default=["bare", "aigw-trace", "peer"])
    parser.add_argument("--blocks", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    if args.mode == "count":
        count(args.peer, args.scenarios, args.configs, args.calls)
        return 0
    if args.mode == "info":
        result = info(args.peer)
    elif args.mode == "record":
        result = record(args.peer, args.scenarios)
    else:
        result = wall(args.peer, args.scenarios, args.configs, args.blocks, args.calls)
    print("@@RESULT@@" + json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
