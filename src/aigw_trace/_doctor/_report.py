"""A diagnosis: what one doctor request found, its verdict and exit code, and how it is printed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from ._findings import safe_url

JOINED, NOT_JOINED, PROBLEM, COULD_NOT_RUN, UNCONFIRMED = 0, 1, 1, 2, 3
"""Exit codes. ``NOT_JOINED`` and every other problem share 1."""

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
    """What one doctor request found. ``sent`` is what the transport was handed, not what was intended."""

    provider: str
    base_url: str
    ok: bool = False
    """The SDK call returned (no exception)."""
    request_line: str | None = None
    """``METHOD URL`` of the request that went out; ``None`` if none did."""
    sent: dict[str, str] = field(default_factory=dict)
    """Trace-context headers on that request (``traceparent``, ``tracestate``, ``baggage``, session headers)."""
    not_sent_because: list[str] = field(default_factory=list)
    """Why no ``traceparent`` went out, when none did."""
    error: str | None = None
    hint: str | None = None
    """One line on what to try, for a failure the doctor recognises."""
    body: str | None = None
    """A summary of an error (or HTML) response body, never the body itself."""
    status: int | None = None
    trace_id: str | None = None
    """From the ``traceparent`` on the wire."""
    sent_parent: str | None = None
    sampled: bool | None = None
    traceresponse: str | None = None
    gateway_trace_id: str | None = None
    gateway_span_id: str | None = None
    verdict: str = ""
    exit_code: int = COULD_NOT_RUN
    gateways: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    span_name: str | None = None
    span_attributes: dict[str, Any] = field(default_factory=dict)


def conclude(d: Diagnosis) -> tuple[str, int]:
    if d.request_line is None:
        return f"COULD NOT RUN: no request went out ({d.error or 'no reason given'}).", COULD_NOT_RUN
    if d.status is None:
        return f"COULD NOT RUN: no answer from the gateway ({d.error or 'no reason given'}).", COULD_NOT_RUN
    if "traceparent" not in d.sent:
        return (
            "NOT SENT: no `traceparent` left this process, so the gateway could not join the trace; the gateway is "
            "not at fault. Fix the cause above.",
            PROBLEM,
        )
    if d.status >= 400:
        verdict = f"REQUEST FAILED: HTTP {d.status}; fix the request first (see the hint)."
        if d.gateway_trace_id is not None and d.gateway_trace_id == d.trace_id:
            verdict += f" The trace context did reach the gateway: its `traceresponse` continues trace {d.trace_id}."
        return verdict, PROBLEM
    if d.hint is not None:
        return f"NOT AN API ANSWER: HTTP {d.status} with an HTML page; fix the base URL first (see the hint).", PROBLEM
    if d.traceresponse is None:
        return (
            "UNKNOWN from here: the gateway returned no `traceresponse` (most gateways don't; that does not mean it "
            f"did not join). Look for trace {d.trace_id} in the gateway's tracing backend."
        ), UNCONFIRMED
    if d.gateway_trace_id is None:
        return f"MALFORMED traceresponse {d.traceresponse!r}: it is not W3C `00-<trace>-<span>-<flags>`.", PROBLEM
    if d.gateway_trace_id == d.trace_id:
        return f"JOINED: the gateway's span {d.gateway_span_id} continues trace {d.trace_id}.", JOINED
    return (
        f"NOT JOINED: the gateway answered with its own trace {d.gateway_trace_id}; it did not continue "
        f"{d.trace_id}. aigw-trace links the two, but configure the gateway to extract W3C `traceparent`."
    ), NOT_JOINED


def render(d: Diagnosis, out: TextIO) -> None:
    """Print a diagnosis. Header values printed are trace context only: never credentials."""
    w = out.write
    w(f"aigw-trace doctor — {d.provider} client → {safe_url(d.base_url)}\n\n")
    if d.request_line:
        w(f"request:       {d.request_line}\n")
    if d.error:
        w(f"result:        FAILED ({d.error})\n")
    elif d.status is not None:
        w(f"result:        HTTP {d.status}\n")
    if d.body:
        w(f"body:          {d.body}\n")
    if d.hint:
        w(f"hint:          {d.hint}\n")
    if d.request_line:
        _render_sent(d, w)
    if d.status is not None:
        w(f"traceresponse: {d.traceresponse or '(none)'}\n")
        w(f"gateway:       {', '.join(d.gateways) or 'no known gateway headers'}\n")
        for name, value in d.headers.items():
            w(f"               {name}: {value}\n")
    if d.span_name:
        w(f"\nrecorded span: {d.span_name}\n")
        for key in sorted(d.span_attributes):
            w(f"  {key} = {d.span_attributes[key]}\n")
    w(f"\nverdict: {d.verdict}\n")
    if d.verdict.startswith(("NOT JOINED", "UNKNOWN", "MALFORMED")):  # the gateway's side: how to configure it
        for name in d.gateways or ["generic"]:
            w(f"advice ({name}): {ADVICE.get(name, ADVICE['generic'])}\n")
    w(f"exit code: {d.exit_code}\n")


def _render_sent(d: Diagnosis, w: Callable[[str], Any]) -> None:
    # Without an answer the headers were handed to the transport but may never have left: say "tried".
    label = "sent:         " if d.status is not None else "tried to send:"
    if not d.sent:
        w(f"{label} (no trace-context header)\n")
    for name, value in d.sent.items():
        w(f"{label} {name}: {value}\n")
        label = " " * len(label)
    if "traceparent" in d.sent:
        if d.sampled is False:
            w("               (unsampled: a parent-based gateway records nothing for this trace)\n")
        return
    w("not sent:      traceparent, because:\n")
    for reason in d.not_sent_because:
        w(f"               - {reason}\n")
