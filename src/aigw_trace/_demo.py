"""``aigw-trace demo``: a small app calls OpenAI and Anthropic through a loopback AI gateway, and the joined traces
are drawn as a waterfall. No network, no API keys.

Vocabulary: a *request* is one thing the demo app is asked to do; it gets one app span and so one trace. It makes
one SDK *call* (one GenAI CLIENT span, aigw-trace's), which takes one or more HTTP *attempts*; the gateway records
a SERVER span per attempt and, under it, a simulated provider span. Three services, three tracer providers, one
in-memory exporter: ``demo-app`` → ``ai-gateway`` → ``llm-provider``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import aigw_trace

from . import _attributes as A
from .testing import Fault, LoopbackGateway

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

APP_SERVICE = "demo-app"
"""``service.name`` of the demo app, whose spans aigw-trace's GenAI spans belong to."""
GATEWAY_SERVICE = "ai-gateway"
"""``service.name`` of the loopback gateway's SERVER spans."""
PROVIDER_SERVICE = "llm-provider"
"""``service.name`` of the simulated upstream provider spans."""

OPENAI_MODEL = "gpt-4o-mini"
"""Model of the OpenAI requests."""
ANTHROPIC_MODEL = "claude-haiku-4-5"
"""Model of the Anthropic requests."""
CONVERSATION_ID = "conv-42"
"""Set with :func:`aigw_trace.attributes` on the first request, to show enrichment."""

_GATEWAY_ROLE = "aigw.gateway.role"
"""The loopback gateway's marker: ``gateway`` on its SERVER span, ``upstream`` on the provider span under it."""
_TRACER_NAME = "aigw_trace.demo"
"""Instrumentation scope of the app spans."""
_NEEDED = ("openai", "anthropic", "opentelemetry.sdk")
"""What the demo imports beyond aigw-trace's own dependencies."""
_INSTALL_HINT = "pip install 'aigw-trace[openai,anthropic,sdk]'"
_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
"""The ``otlp`` extra's exporter, imported only when an endpoint is configured."""
_CALL_TIMEOUT = 10.0
"""Seconds per SDK call: a loopback answer takes milliseconds, so anything longer is a stuck demo, not a slow one."""


# --- the app ---


@dataclass(frozen=True)
class _Clients:
    """One client per SDK, made once: building one costs ~150 ms (the CA bundle)."""

    openai: Any
    anthropic: Any


def _messages(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


def _ask(clients: _Clients) -> str:
    with aigw_trace.attributes(conversation_id=CONVERSATION_ID):
        reply = clients.openai.chat.completions.create(model=OPENAI_MODEL, messages=_messages("Where do traces join?"))
    return str(reply.choices[0].message.content)


def _ask_streamed(clients: _Clients) -> str:
    stream = clients.openai.chat.completions.create(
        model=OPENAI_MODEL,
        messages=_messages("And when streamed?"),
        stream=True,
        # Without it OpenAI sends no usage on a stream, and aigw-trace never estimates tokens.
        stream_options={"include_usage": True},
    )
    with stream:
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)


def _summarise(clients: _Clients) -> str:
    reply = clients.anthropic.messages.create(
        model=ANTHROPIC_MODEL, max_tokens=256, messages=_messages("Summarise the trace.")
    )
    return "".join(block.text for block in reply.content if block.type == "text")


def _summarise_streamed(clients: _Clients) -> str:
    with clients.anthropic.messages.stream(
        model=ANTHROPIC_MODEL, max_tokens=256, messages=_messages("Summarise it as it comes.")
    ) as stream:
        return "".join(stream.text_stream)


def _translate(clients: _Clients) -> str:
    reply = clients.openai.chat.completions.create(model=OPENAI_MODEL, messages=_messages("Translate 'trace'."))
    return str(reply.choices[0].message.content)


def _warm_up(clients: _Clients) -> None:
    """One untraced call per SDK, so that the waterfall shows the calls rather than the SDKs' one-time costs (lazy
    imports, first response model builds: tens of milliseconds each)."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation(), contextlib.suppress(Exception):
        # A failure here is not reported: the requests that follow fail the same way, and they are.
        clients.openai.chat.completions.create(model=OPENAI_MODEL, messages=_messages("warm-up"))
        clients.anthropic.messages.create(model=ANTHROPIC_MODEL, max_tokens=1, messages=_messages("warm-up"))


@dataclass(frozen=True)
class Request:
    """One request the demo app handles: its app span, the SDK call it makes, and what the gateway does to it."""

    route: str
    """Name of the app span, e.g. ``handle /ask``."""
    call: str
    """Name of the GenAI span the call must produce, e.g. ``chat gpt-4o-mini``."""
    about: str
    """What it shows, for the intro."""
    send: Callable[[_Clients], str]
    faults: tuple[Fault, ...]
    """What the gateway does to it, in order of the attempts."""
    attempts: int = 1
    """HTTP attempts the call takes: gateway SERVER spans under its GenAI span."""


# The "provider" answers in microseconds; a little latency (Fault.slow) makes the bars say something. The retry
# waits 25 ms: long enough to show as a gap between the two attempts, short enough to keep the demo quick.
REQUESTS: tuple[Request, ...] = (
    Request("handle /ask", f"chat {OPENAI_MODEL}", "OpenAI chat; conversation id from aigw_trace.attributes()",
            _ask, (Fault.slow(0.04),)),
    Request("handle /ask/stream", f"chat {OPENAI_MODEL}", "OpenAI chat, streamed with usage",
            _ask_streamed, (Fault.slow(0.03, chunk_delay=0.005),)),
    Request("handle /summarise", f"chat {ANTHROPIC_MODEL}", "Anthropic messages",
            _summarise, (Fault.slow(0.05),)),
    Request("handle /summarise/stream", f"chat {ANTHROPIC_MODEL}", "Anthropic messages.stream()",
            _summarise_streamed, (Fault.slow(0.03, chunk_delay=0.005),)),
    Request("handle /translate", f"chat {OPENAI_MODEL}", "OpenAI chat: the gateway answers 429, the SDK retries",
            _translate, (Fault.rate_limited(retry_after_ms=25), Fault.slow(0.03)), attempts=2),
)  # fmt: skip
"""What the demo app is asked to do, in order: one trace each."""


def run_app(err: TextIO | None = None) -> list[ReadableSpan]:
    """Run the demo app against a loopback gateway and return every finished span: app, gateway and provider.

    Instruments aigw-trace against the app's providers for the duration (replacing an instrumentation already in
    place) and uninstruments it at the end. A request that fails is reported on ``err`` (stderr by default) and the
    app goes on; :func:`check` then says what is missing.
    """
    import anthropic
    import openai

    from .testing._in_memory import InMemoryTelemetry

    err = err if err is not None else sys.stderr
    telemetry = InMemoryTelemetry(APP_SERVICE)
    try:
        telemetry.instrument()
        gateway = LoopbackGateway(
            tracer_provider=telemetry.tracer_provider_for(GATEWAY_SERVICE),
            upstream_tracer_provider=telemetry.tracer_provider_for(PROVIDER_SERVICE),
            text="Traces join at the gateway.",
            stream_chunks=4,
        )
        tracer = telemetry.tracer_provider.get_tracer(_TRACER_NAME)
        with gateway:
            # trust_env=False: an HTTP(S)_PROXY in the environment would otherwise send loopback requests to it.
            clients = _Clients(
                openai.OpenAI(
                    api_key="demo-no-key",
                    base_url=gateway.openai_base_url,
                    timeout=_CALL_TIMEOUT,
                    http_client=openai.DefaultHttpxClient(trust_env=False),
                ),
                anthropic.Anthropic(
                    api_key="demo-no-key",
                    base_url=gateway.anthropic_base_url,
                    timeout=_CALL_TIMEOUT,
                    http_client=anthropic.DefaultHttpxClient(trust_env=False),
                ),
            )
            try:
                _warm_up(clients)
                gateway.wait_idle()
                gateway.clear()
                telemetry.span_exporter.clear()
                for request in REQUESTS:
                    gateway.inject(*request.faults)
                    try:
                        with tracer.start_as_current_span(request.route):
                            request.send(clients)
                    except Exception as error:
                        print(f"{request.route}: {type(error).__name__}: {error}", file=err)
                    gateway.clear()  # faults a failed request left behind must not hit the next one
            finally:
                clients.openai.close()
                clients.anthropic.close()
            gateway.wait_idle()
        return telemetry.spans()
    finally:
        telemetry.close()


# --- what must be there ---


def _service(span: ReadableSpan) -> object:
    return span.resource.attributes.get("service.name") if span.resource is not None else None


def _role(span: ReadableSpan) -> object:
    return (span.attributes or {}).get(_GATEWAY_ROLE)


def _children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    parent_id = parent.context.span_id if parent.context is not None else None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent_id]


def check(spans: Sequence[ReadableSpan]) -> list[str]:
    """What a demo run's spans lack, one line per problem; empty when every request's trace is whole.

    Whole means: the request's app span is a root; its trace holds the call's GenAI span as the app span's child,
    the expected number of gateway SERVER spans as the GenAI span's children, and a provider span under each; and
    no gateway or provider span sits in a trace of its own.
    """
    problems: list[str] = []
    app_traces: set[int] = set()
    for request in REQUESTS:
        roots = [s for s in spans if s.name == request.route and s.parent is None and _service(s) == APP_SERVICE]
        if len(roots) != 1 or roots[0].context is None:
            problems.append(f"{request.route}: expected one app span, found {len(roots)}")
            continue
        root = roots[0]
        trace_id = root.context.trace_id
        app_traces.add(trace_id)
        in_trace = [s for s in spans if s.context is not None and s.context.trace_id == trace_id]
        calls = [s for s in _children(in_trace, root) if (s.attributes or {}).get(A.OPERATION_NAME) is not None]
        if [c.name for c in calls] != [request.call]:
            problems.append(
                f"{request.route}: expected one GenAI span {request.call!r}, found {[c.name for c in calls]}"
            )
            continue
        gateway = [s for s in _children(in_trace, calls[0]) if _role(s) == "gateway"]
        if len(gateway) != request.attempts:
            problems.append(
                f"{request.route}: expected {request.attempts} gateway span(s) under {request.call!r}, "
                f"found {len(gateway)}"
            )
        for server in gateway:
            upstream = [s for s in _children(in_trace, server) if _role(s) == "upstream"]
            if [_service(s) for s in upstream] != [PROVIDER_SERVICE]:
                problems.append(f"{request.route}: no {PROVIDER_SERVICE} span under {server.name!r}")
    strays = {
        s.context.trace_id
        for s in spans
        if s.context is not None and _role(s) is not None and s.context.trace_id not in app_traces
    }
    if strays:
        problems.append(f"{len(strays)} gateway trace(s) did not join an app trace")
    return problems


def summary(spans: Sequence[ReadableSpan], problems: Sequence[str]) -> str:
    """The closing line: counts, and whether every GenAI call joined the gateway's trace (the problems themselves
    are listed above it, one per line)."""
    trace_ids = {s.context.trace_id for s in spans if s.context is not None}
    counts = f"{len(trace_ids)} traces, {len(spans)} spans"
    if not problems:
        return f"{counts}; every GenAI call joined the gateway's trace"
    return f"{counts}; NOT joined: {len(problems)} problem{'s' if len(problems) > 1 else ''} above"


# --- exporting ---


def _otlp_endpoint() -> str | None:
    """Where the OTLP exporter will send traces, as it resolves it; ``None`` when nothing is configured."""
    traces = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/traces" if base else None


def _otlp_exporter(out: TextIO) -> Any:
    """An OTLP/HTTP span exporter when an endpoint is configured and the ``otlp`` extra is installed, else ``None``."""
    if _otlp_endpoint() is None:
        return None
    try:
        module = importlib.import_module(_OTLP_MODULE)
    except ImportError:
        print(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the OTLP exporter is not installed "
            "(pip install 'aigw-trace[otlp]'): showing the waterfall only",
            file=out,
        )
        return None
    return module.OTLPSpanExporter()


def _export(exporter: Any, spans: Sequence[ReadableSpan], out: TextIO) -> bool:
    # One synchronous export of everything, after the run, rather than a batch processor per provider: the result
    # can be reported, and the exporter groups the spans by their resource, so each keeps its service.name.
    from opentelemetry.sdk.trace.export import SpanExportResult

    try:
        ok = exporter.export(list(spans)) is SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    where = _otlp_endpoint()
    if ok:
        print(f"exported {len(spans)} spans to {where}", file=out)
    else:
        print(f"could not export the spans to {where} (the exporter logged why)", file=out)
    return ok


# --- the command ---


def _missing() -> list[str]:
    return [name for name in _NEEDED if importlib.util.find_spec(name) is None]


def run(html: str | None = None, *, out: TextIO | None = None) -> int:
    """``aigw-trace demo``: run the app, draw the waterfall on ``out``, optionally write it to ``html`` and export
    to OTLP; 0 when every expected span is present (and the export, if any, succeeded)."""
    out = out if out is not None else sys.stdout
    missing = _missing()
    if missing:
        print(f"aigw-trace demo needs {', '.join(missing)}: {_INSTALL_HINT}", file=sys.stderr)
        return 2
    from ._waterfall import render_html, render_text

    exporter = _otlp_exporter(out)

    print(
        f"aigw-trace demo: {APP_SERVICE} → {GATEWAY_SERVICE} (loopback) → {PROVIDER_SERVICE} (simulated); "
        "no network, no API keys",
        file=out,
    )
    for request in REQUESTS:
        print(f"  {request.route:<26}{request.about}", file=out)
    print(file=out)
    out.flush()

    spans = run_app()
    color = out.isatty() and not os.environ.get("NO_COLOR")
    width = shutil.get_terminal_size((120, 24)).columns
    out.write(render_text(spans, width=width, color=color))

    exported = True
    if html is not None:
        Path(html).write_text(render_html(spans, title="aigw-trace demo"), encoding="utf-8")
        print(f"wrote {html}", file=out)
    if exporter is not None:
        exported = _export(exporter, spans, out)
    problems = check(spans)
    for problem in problems:
        print(f"  ✗ {problem}", file=out)
    print(summary(spans, problems), file=out)
    return 0 if not problems and exported else 1
