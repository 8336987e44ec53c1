"""In-memory OpenTelemetry for tests: providers wired to in-memory exporters, and aigw-trace instrumented on them.

Needs ``opentelemetry-sdk`` (the ``aigw-trace[sdk]`` extra); imported only by what uses it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, Metric
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import aigw_trace

_OPERATION = "gen_ai.operation.name"
_GATEWAY_ROLE = "aigw.gateway.role"


@dataclass(frozen=True)
class JoinedTrace:
    """One GenAI call followed across the gateway, as :meth:`InMemoryTelemetry.joined` returns it."""

    client: ReadableSpan
    """aigw-trace's GenAI CLIENT span of the call (``chat gpt-4o-mini``, …)."""
    gateway: list[ReadableSpan]
    """The gateway's SERVER spans whose parent is ``client``: one per HTTP attempt (a retried call has two), in the
    order they ended; empty when the gateway did not join the trace."""
    upstream: list[ReadableSpan]
    """The simulated provider's CLIENT spans under those gateway spans (none for a route without a model call)."""

    @property
    def trace_id(self) -> int:
        """The client span's trace id, as an int (``format(trace_id, "032x")`` gives the hex of ``traceparent``)."""
        return int(self.client.context.trace_id)


class InMemoryTelemetry:
    """Tracer, meter and logger providers that keep everything in memory, for assertions.

    ``instrument(**options)`` (re)instruments aigw-trace against these providers with the given
    :func:`aigw_trace.instrument` options; ``close()`` uninstruments and shuts the providers down.
    """

    def __init__(self, service_name: str = "app") -> None:
        self.resource = Resource.create({"service.name": service_name})
        self.span_exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider(resource=self.resource)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self._new_meter_provider()
        self.log_exporter = InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]
        self.logger_provider = LoggerProvider(resource=self.resource)
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self._instrumented = False
        self._options: dict[str, Any] = {}
        self._extra_providers: list[TracerProvider] = []

    def tracer_provider_for(self, service_name: str) -> TracerProvider:
        """Another tracer provider, for another service (a gateway, a provider), exporting into the same spans."""
        provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self._extra_providers.append(provider)
        return provider

    def _new_meter_provider(self) -> None:
        self.metric_reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(resource=self.resource, metric_readers=[self.metric_reader])

    # --- instrumentation ---

    def instrument(self, **options: Any) -> None:
        """Instrument aigw-trace against these providers (uninstrumenting first, so options can change)."""
        if aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry:
            aigw_trace.uninstrument()
        aigw_trace.instrument(
            tracer_provider=self.tracer_provider,
            meter_provider=self.meter_provider,
            logger_provider=self.logger_provider,
            **options,
        )
        self._instrumented = True
        self._options = dict(options)

    def close(self) -> None:
        if self._instrumented:
            aigw_trace.uninstrument()
            self._instrumented = False
        for provider in self._extra_providers:
            provider.shutdown()
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()
        self.logger_provider.shutdown()

    # --- reading ---

    def spans(self) -> list[ReadableSpan]:
        """Every finished span, in the order they ended."""
        return list(self.span_exporter.get_finished_spans())

    def genai_spans(self) -> list[ReadableSpan]:
        """Finished spans that carry ``gen_ai.operation.name``."""
        return [s for s in self.spans() if s.attributes and _OPERATION in s.attributes]

    def span(self, name: str | None = None) -> ReadableSpan:
        """The single finished GenAI span (optionally with this name); fails if there is not exactly one."""
        spans = [s for s in self.genai_spans() if name is None or s.name == name]
        if len(spans) != 1:
            raise AssertionError(
                f"expected exactly one GenAI span{f' named {name!r}' if name else ''}, got {[s.name for s in spans]}"
            )
        return spans[0]

    def joined(self) -> list[JoinedTrace]:
        """Every GenAI client span with the gateway and upstream spans that joined its trace, oldest first."""
        spans = self.spans()
        children: dict[int, list[ReadableSpan]] = {}
        for span in spans:
            if span.parent is not None:
                children.setdefault(span.parent.span_id, []).append(span)

        def under(span: ReadableSpan, role: str) -> list[ReadableSpan]:
            kids = children.get(span.context.span_id, [])
            return [k for k in kids if (k.attributes or {}).get(_GATEWAY_ROLE) == role]

        out = []
        for client in self.genai_spans():
            gateway = under(client, "gateway")
            upstream = [u for g in gateway for u in under(g, "upstream")]
            out.append(JoinedTrace(client, gateway, upstream))
        return sorted(out, key=lambda j: j.client.start_time or 0)

    def assert_joined(self) -> list[JoinedTrace]:
        """Assert that every GenAI client span forms one trace with the gateway: client span → gateway server span
        → upstream span, all with the client's trace id. Returns the joined traces for further checks."""
        joined = self.joined()
        if not joined:
            raise AssertionError("no GenAI client span was recorded")
        for j in joined:
            name = j.client.name
            if not j.gateway:
                raise AssertionError(f"{name!r}: no gateway server span is a child of the client span")
            if not j.upstream:
                raise AssertionError(f"{name!r}: no upstream span under the gateway span")
            for span in (*j.gateway, *j.upstream):
                if span.context.trace_id != j.trace_id:
                    raise AssertionError(f"{name!r}: {span.name!r} is in another trace")
        return joined

    def metrics(self) -> dict[str, Metric]:
        """The latest collected metrics by name."""
        out: dict[str, Metric] = {}
        data = self.metric_reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    out[metric.name] = metric
        return out

    def metric_points(self, name: str) -> list[Any]:
        """Data points of metric ``name`` (histogram points have ``count``, ``sum``, ``attributes``, …)."""
        metric = self.metrics().get(name)
        return list(metric.data.data_points) if metric is not None else []

    def logs(self, event_name: str | None = None) -> list[ReadableLogRecord]:
        """Emitted log records (GenAI events among them), optionally only those with ``event_name``."""
        records = list(self.log_exporter.get_finished_logs())
        if event_name is None:
            return records
        return [r for r in records if r.log_record.event_name == event_name]

    def clear(self) -> None:
        """Forget finished spans, logs and metric points (metrics restart from zero on a fresh meter provider)."""
        self.span_exporter.clear()
        self.log_exporter.clear()
        old = self.meter_provider
        self._new_meter_provider()
        if self._instrumented:
            self.instrument(**self._options)
        old.shutdown()

    def __iter__(self) -> Iterator[ReadableSpan]:
        return iter(self.spans())


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]
