"""``aigw-trace doctor``: one small instrumented request to your own gateway, and what really went over the wire.

The headers reported as sent are read from the request the doctor's own HTTP client handed to its transport (an
event hook on the client it builds), not from the span: what aigw-trace meant to inject and what left the process
can differ, and only the latter reaches the gateway. Whether the gateway continued the trace is read from its
W3C ``traceresponse``; without one the doctor says it cannot tell, since only the gateway's tracing backend can.

Exit codes (``Diagnosis.exit_code``, documented in docs/doctor.md): 0 joined, 1 a problem found (on either side),
2 could not run, 3 sent but not confirmable from the client.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import propagate
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from ._config import Settings
from ._gateway_headers import PRESETS, parse_traceresponse
from ._options import BY_NAME

ENV_PROPAGATE = BY_NAME["propagate"].env
ENV_INJECT_HOSTS = BY_NAME["inject_hosts"].env

JOINED, NOT_JOINED, PROBLEM, COULD_NOT_RUN, UNCONFIRMED = 0, 1, 1, 2, 3
"""Exit codes. ``NOT_JOINED`` and every other problem share 1."""

_KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_TIMEOUT = 30.0
_BODY_KEEP = 65536
"""Bytes of an error body kept for its summary; nothing more is read into memory."""
_LINE = 160
"""Longest text quoted from a response body."""

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


class _Unsupported(Exception):
    """The installed SDK cannot make the doctor's request as asked."""


@dataclass
class _Wire:
    """What the doctor's HTTP client saw: the last request handed to the transport and the last response."""

    request: Any = None
    response: Any = None
    body: bytes = b""

    def on_request(self, request: Any) -> None:
        self.request = request

    def on_response(self, response: Any) -> None:
        self.response = response
        content_type = response.headers.get("content-type", "")
        if response.status_code >= 400 or "html" in content_type.lower():
            # Only these bodies are summarised; reading them here keeps them whatever the SDK does next.
            try:
                self.body = response.read()[:_BODY_KEEP]
            except Exception:
                self.body = b""


def _make_request(
    provider: str, base_url: str, api_key: str, model: str | None, wire: _Wire
) -> tuple[Callable[[], Any], Callable[[], None]]:
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [wire.on_request], "response": [wire.on_response]}
    if provider == "openai":
        import openai

        oa = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            max_retries=0,
            timeout=_TIMEOUT,
            http_client=openai.DefaultHttpxClient(event_hooks=hooks),
        )
        if model:
            return lambda: oa.chat.completions.with_raw_response.create(
                model=model, messages=[{"role": "user", "content": "ping"}], max_completion_tokens=1
            ), oa.close
        return lambda: oa.models.with_raw_response.list(), oa.close
    import anthropic

    an = anthropic.Anthropic(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=_TIMEOUT,
        http_client=anthropic.DefaultHttpxClient(event_hooks=hooks),
    )
    if model:
        return lambda: an.messages.with_raw_response.create(
            model=model, max_tokens=1, messages=[{"role": "user", "content": "ping"}]
        ), an.close
    if not hasattr(an, "models"):
        an.close()
        raise _Unsupported("this anthropic version has no models.list()")
    return lambda: an.models.with_raw_response.list(), an.close


def diagnose(provider: str, base_url: str, *, model: str | None = None, api_key: str | None = None) -> Diagnosis:
    """Send one instrumented request to ``base_url`` and report what went out and what came back."""
    result = Diagnosis(provider=provider, base_url=base_url)
    api_key = api_key or os.environ.get(_KEY_ENV[provider]) or "aigw-trace-doctor"
    try:
        from .testing._in_memory import InMemoryTelemetry
    except ImportError as exc:
        return _could_not_run(result, exc, "sdk")
    try:
        __import__(provider)
    except ImportError as exc:
        return _could_not_run(result, exc, provider)

    suppressed = not is_instrumentation_enabled()  # read where the request will run
    settings = Settings.resolve({})  # the injection settings instrument() reads from the environment below
    wire = _Wire()
    telemetry = InMemoryTelemetry(service_name="aigw-trace-doctor")
    telemetry.instrument(gateway=",".join(PRESETS), response_headers="server,via")
    raised: Exception | None = None
    try:
        send, close = _make_request(provider, base_url, api_key, model, wire)
        try:
            send()
            result.ok = True
        finally:
            close()
    except _Unsupported as exc:
        result.error, result.hint = str(exc), "pass --model to send a one-token messages request instead"
    except Exception as exc:  # the doctor reports every failure instead of raising it
        raised = exc
    finally:
        spans = telemetry.genai_spans()
        telemetry.close()

    if spans:
        span = spans[-1]
        result.span_name = span.name
        result.span_attributes = dict(span.attributes or {})
    _read_request(result, wire.request, settings.session_headers)
    _read_response(result, wire, api_key)
    if raised is not None:
        _read_failure(result, raised, api_key)
    if wire.request is not None and "traceparent" not in result.sent:
        result.not_sent_because = _why_not_sent(wire.request, settings, suppressed, bool(spans))
    result.verdict, result.exit_code = _verdict(result)
    return result


def _could_not_run(result: Diagnosis, exc: ImportError, extra: str) -> Diagnosis:
    result.error = f"{type(exc).__name__}: {exc}"
    result.hint = f"install the missing extra: pip install 'aigw-trace[{extra}]'"
    result.verdict = "COULD NOT RUN: a package the doctor needs is missing."
    result.exit_code = COULD_NOT_RUN
    return result


def _trace_headers() -> tuple[str, ...]:
    names = {"traceparent", "tracestate", "baggage"}
    names.update(f.lower() for f in propagate.get_global_textmap().fields)
    return tuple(sorted(names))


def _read_request(result: Diagnosis, request: Any, session_headers: tuple[str, ...]) -> None:
    if request is None:
        return
    result.request_line = f"{request.method} {safe_url(str(request.url))}"
    headers = request.headers
    for name in (*_trace_headers(), *session_headers):
        value = headers.get(name)
        if value is not None:
            result.sent[name] = value
    parent = result.sent.get("traceparent")
    if parent is not None:
        parts = parent.strip().split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16 and len(parts[3]) == 2:
            result.trace_id, result.sent_parent = parts[1], parts[2]
            try:
                result.sampled = bool(int(parts[3], 16) & 1)
            except ValueError:
                result.sampled = None


def _read_response(result: Diagnosis, wire: _Wire, api_key: str) -> None:
    response = wire.response
    if response is None:
        return
    headers = response.headers
    result.status = response.status_code
    result.traceresponse = headers.get("traceresponse")
    if result.traceresponse is not None:
        gateway = parse_traceresponse(result.traceresponse)
        if gateway is not None:
            result.gateway_trace_id = format(gateway.trace_id, "032x")
            result.gateway_span_id = format(gateway.span_id, "016x")
    for name, wanted in PRESETS.items():
        found = {h: headers[h] for h in wanted if h in headers}
        if found:
            result.gateways.append(name)
            result.headers.update(found)
    content_type = headers.get("content-type", "")
    if wire.body:
        result.body = _redact(summarise_body(content_type, wire.body, int(headers.get("content-length") or 0)), api_key)
    if result.status >= 400 or "html" in content_type.lower():
        result.hint = _status_hint(result.provider, result.base_url, result.status, content_type)


def _read_failure(result: Diagnosis, exc: Exception, api_key: str) -> None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):  # an HTTP error answer: the body is summarised on its own line, never dumped
        result.error = f"{type(exc).__name__} (HTTP {status})"
        return
    cause = _root(exc)
    detail = str(cause) if cause is not exc else str(exc)
    result.error = _redact(f"{type(exc).__name__}: {_one_line(detail)}", api_key)
    result.hint = _connection_hint(exc, result.base_url)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _root(exc: BaseException) -> BaseException:
    *_, last = _causes(exc)
    return last


def _connection_hint(exc: BaseException, base_url: str) -> str | None:
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    for cause in _causes(exc):
        text = str(cause)
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
            return (
                f"connection refused: nothing listens on {host}:{port}; is the gateway running, and is the port right?"
            )
        if isinstance(cause, socket.gaierror) or "Name or service not known" in text or "nodename nor servname" in text:
            return f"DNS: {host!r} does not resolve here; check the host name in --base-url (and VPN or DNS settings)."
        if isinstance(cause, ssl.SSLError) or "SSL" in text or "CERTIFICATE" in text:
            if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "wrong version" in text.lower():
                return f"TLS: {host}:{port} does not speak TLS; if the gateway serves plain HTTP, use http://."
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return "TLS: the gateway's certificate is not trusted here (self-signed or a private CA?)."
            return (
                f"TLS handshake with {host}:{port} failed; check the scheme (http:// or https://) and the certificate."
            )
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__ or "timed out" in text:
            return f"no answer within {_TIMEOUT:g} s: is {host}:{port} the gateway, and reachable from here?"
    return None


def _status_hint(provider: str, base_url: str, status: int, content_type: str) -> str | None:
    path = urlsplit(base_url).path.rstrip("/")
    if status == 404:
        if provider == "openai" and not path.endswith("/v1"):
            return "404: the base URL may be missing `/v1` (OpenAI-compatible gateways serve e.g. /v1/models)."
        if provider == "anthropic" and path.endswith("/v1"):
            return "404: the anthropic SDK adds `/v1` itself; try the base URL without the trailing `/v1`."
        return "404: the gateway serves nothing at this path; check the base URL's path and the gateway's routes."
    if status in (401, 403):
        env = _KEY_ENV[provider]
        return f"{status}: the gateway refused the credentials; set {env} to a key it accepts (it is never printed)."
    if status < 400 and "html" in content_type.lower():
        return "the answer is an HTML page, not an API response: the base URL may point at a web UI or miss `/v1`."
    return None


def summarise_body(content_type: str, body: bytes, length: int = 0) -> str:
    """One line about a response body: for HTML its title (or first text line) and size, else its first line."""
    size = max(length, len(body))
    text = body.decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        label = _one_line(re.sub(r"<[^>]*>", " ", title.group(1))) if title else ""
        if not label:
            without_head = re.sub(r"<(script|style|head)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
            label = next((line for line in (_one_line(x) for x in re.split(r"<[^>]*>", without_head)) if line), "")
        return f"HTML page, {size} bytes" + (f': "{label}"' if label else "")
    message = _json_message(text)
    first = message if message is not None else next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"{size} bytes: {_one_line(first)}"


def _json_message(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return None


def safe_url(url: str) -> str:
    """``url`` without user info or query values, either of which can carry a credential."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if "@" in parts.netloc:
        netloc = "***@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _LINE else line[: _LINE - 1] + "…"


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def _why_not_sent(request: Any, settings: Settings, suppressed: bool, span_recorded: bool) -> list[str]:
    """Every reason, among those the doctor knows, for aigw-trace to send no ``traceparent`` on ``request``."""
    reasons = []
    fields = {f.lower() for f in propagate.get_global_textmap().fields}
    if "traceparent" not in fields:
        configured = os.environ.get("OTEL_PROPAGATORS")
        writes = ", ".join(sorted(fields)) or "nothing"
        reasons.append(
            f"the propagators ({f'OTEL_PROPAGATORS={configured}' if configured is not None else 'configured in code'})"
            f" do not include `tracecontext`: they write {writes}, no `traceparent`."
        )
    if not settings.propagate:
        reasons.append(f"injection is off: {ENV_PROPAGATE}={os.environ.get(ENV_PROPAGATE, '')!r}.")
    host = request.url.host
    if settings.propagate and settings.inject_hosts is not None and not settings.inject_hosts.allows(host):
        reasons.append(
            f"the host {host!r} is not on the injection allow-list {ENV_INJECT_HOSTS}="
            f"{os.environ.get(ENV_INJECT_HOSTS, '')!r}; aigw-trace sends trace headers only to hosts listed there."
        )
    if suppressed:
        reasons.append("instrumentation is suppressed in the calling context (suppress_instrumentation()).")
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        reasons.append("OTEL_SDK_DISABLED=true: the OpenTelemetry SDK makes no spans, so there is no context to send.")
    if not reasons:
        if not span_recorded:
            reasons.append("aigw-trace recorded no span for this request, so it had no context to inject.")
        else:
            reasons.append("none the doctor knows: aigw-trace recorded a span but sent no `traceparent` (a bug?).")
    return reasons


def _verdict(d: Diagnosis) -> tuple[str, int]:
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
