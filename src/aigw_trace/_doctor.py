"""``aigw-trace doctor``: one small instrumented request to your own gateway, and what came back.

It says what it can tell from the client side and no more: a gateway that returns no ``traceresponse`` may well have
joined the trace; only its tracing backend can confirm that.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from . import _attributes as A
from ._gateway_headers import PRESETS

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}

ADVICE = {
    "litellm": (
        'LiteLLM proxy: enable `litellm_settings: callbacks: ["otel"]` (or LITELLM_OTEL_V2=true with '
        "opentelemetry-instrumentation-fastapi installed, which also returns `traceresponse`); it continues the "
        "incoming `traceparent`, and records nothing for unsampled (-00) requests."
    ),
    "envoy": (
        "Envoy AI Gateway: set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_SERVICE_NAME) on the ext_proc container; it "
        "propagates `tracecontext,baggage` by default. Session ids come from the `agent-session-id` header "
        '(aigw_trace: session_headers="agent-session-id").'
    ),
    "generic": (
        "Make sure the gateway's tracing is on, uses the W3C `tracecontext` propagator, and samples parent-based; "
        "then look up the trace id above in its tracing backend."
    ),
}


@dataclass
class Diagnosis:
    """What one doctor request found."""

    provider: str
    base_url: str
    ok: bool = False
    error: str | None = None
    status: int | None = None
    trace_id: str | None = None
    sent_parent: str | None = None
    sampled: bool | None = None
    traceresponse: str | None = None
    verdict: str = ""
    gateways: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    span_name: str | None = None
    span_attributes: dict[str, Any] = field(default_factory=dict)


def _make_request(provider: str, base_url: str, api_key: str, model: str | None) -> Callable[[], Any]:
    if provider == "openai":
        import openai

        oa = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
        if model:
            return lambda: oa.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "ping"}], max_completion_tokens=1
            )
        return lambda: oa.models.with_raw_response.list()
    import anthropic

    an = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)
    if model:
        return lambda: an.messages.with_raw_response.create(
            model=model, max_tokens=1, messages=[{"role": "user", "content": "ping"}]
        )
    return lambda: an.models.with_raw_response.list()


def diagnose(provider: str, base_url: str, *, model: str | None = None, api_key: str | None = None) -> Diagnosis:
    """Send one instrumented request to ``base_url`` and read what the gateway answered."""
    from .testing._in_memory import InMemoryTelemetry

    result = Diagnosis(provider=provider, base_url=base_url)
    api_key = api_key or os.environ.get(_KEY_ENV[provider]) or "aigw-trace-doctor"
    telemetry = InMemoryTelemetry(service_name="aigw-trace-doctor")
    telemetry.instrument(gateway=",".join(PRESETS), response_headers="server,via")
    try:
        raw = _make_request(provider, base_url, api_key, model)()
        result.ok = True
        result.status = raw.status_code
        headers = raw.headers
    except Exception as exc:  # the doctor reports every failure instead of raising it
        result.error = f"{type(exc).__name__}: {exc}"
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        result.status = getattr(response, "status_code", None)
    finally:
        spans = telemetry.genai_spans()
        telemetry.close()
    if spans:
        span = spans[-1]
        ctx = span.get_span_context()
        assert ctx is not None  # finished SDK spans always have one
        result.trace_id = format(ctx.trace_id, "032x")
        result.sent_parent = format(ctx.span_id, "016x")
        result.sampled = ctx.trace_flags.sampled
        result.span_name = span.name
        result.span_attributes = dict(span.attributes or {})
    if headers is not None:
        result.traceresponse = headers.get("traceresponse")
        for name, wanted in PRESETS.items():
            found = {h: headers[h] for h in wanted if h in headers}
            if found:
                result.gateways.append(name)
                result.headers.update(found)
    result.verdict = _verdict(result)
    return result


def _verdict(d: Diagnosis) -> str:
    if d.trace_id is None:
        return "No span was recorded, so nothing was injected: is the SDK installed and the endpoint traced?"
    gateway_trace = d.span_attributes.get(A.AIGW_GATEWAY_TRACE_ID)
    gateway_span = d.span_attributes.get(A.AIGW_GATEWAY_SPAN_ID)
    if gateway_span and not gateway_trace:
        return f"JOINED: the gateway's span {gateway_span} continues trace {d.trace_id}."
    if gateway_trace:
        return (
            f"NOT JOINED: the gateway answered with its own trace {gateway_trace}; it did not continue "
            f"{d.trace_id}. aigw-trace links the two, but configure the gateway to extract W3C `traceparent`."
        )
    return (
        "UNKNOWN from here: the gateway returned no `traceresponse` (most gateways don't; that does not mean it "
        f"did not join). Look for trace {d.trace_id} in the gateway's tracing backend."
    )


def render(d: Diagnosis, out: TextIO) -> None:
    w = out.write
    w(f"aigw-trace doctor — {d.provider} client → {d.base_url}\n\n")
    if d.error:
        w(f"request:      FAILED ({d.error})\n")
    else:
        w(f"request:      HTTP {d.status}\n")
    if d.trace_id:
        w(f"sent:         traceparent 00-{d.trace_id}-{d.sent_parent}-… (sampled={d.sampled})\n")
    w(f"traceresponse: {d.traceresponse or '(none)'}\n")
    w(f"gateway:      {', '.join(d.gateways) or 'no known gateway headers'}\n")
    for name, value in d.headers.items():
        w(f"              {name}: {value}\n")
    if d.span_name:
        w(f"\nrecorded span: {d.span_name}\n")
        for key in sorted(d.span_attributes):
            w(f"  {key} = {d.span_attributes[key]}\n")
    w(f"\nverdict: {d.verdict}\n")
    if not d.verdict.startswith("JOINED"):
        for name in d.gateways or ["generic"]:
            w(f"hint ({name}): {ADVICE.get(name, ADVICE['generic'])}\n")
