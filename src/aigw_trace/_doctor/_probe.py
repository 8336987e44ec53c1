"""The doctor's request: one small instrumented call through the SDK, and what really went over the wire.

The headers reported as sent are read from the request the doctor's own HTTP client handed to its transport (an
event hook on the client it builds), not from the span: what aigw-trace meant to inject and what left the process
can differ, and only the latter reaches the gateway. Whether the gateway continued the trace is read from its
W3C ``traceresponse``; without one the doctor says it cannot tell, since only the gateway's tracing backend can.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate
from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from .._config import Settings
from .._gateway_headers import PRESETS, parse_traceresponse
from ._findings import (
    KEY_ENV,
    connection_hint,
    one_line,
    redact,
    root_cause,
    safe_url,
    status_hint,
    summarise_body,
    why_not_sent,
)
from ._report import COULD_NOT_RUN, Diagnosis, conclude

TIMEOUT = 30.0
_BODY_KEEP = 65536
"""Bytes of an error body kept for its summary; nothing more is read into memory."""


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
    sdk: Any = importlib.import_module(provider)
    hooks: dict[str, list[Callable[..., Any]]] = {"request": [wire.on_request], "response": [wire.on_response]}
    client = (sdk.OpenAI if provider == "openai" else sdk.Anthropic)(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=TIMEOUT,
        http_client=sdk.DefaultHttpxClient(event_hooks=hooks),
    )
    ping = [{"role": "user", "content": "ping"}]
    if model and provider == "openai":
        # The limit travels in extra_body: the keyword only exists from openai 1.45 on.
        return lambda: client.chat.completions.with_raw_response.create(
            model=model, messages=ping, extra_body={"max_completion_tokens": 1}
        ), client.close
    if model:
        return lambda: client.messages.with_raw_response.create(model=model, max_tokens=1, messages=ping), client.close
    if not hasattr(client, "models"):  # anthropic 0.x before the models resource: the same request, by path
        return lambda: client.get("/v1/models", cast_to=object), client.close
    return lambda: client.models.with_raw_response.list(), client.close


def diagnose(provider: str, base_url: str, *, model: str | None = None, api_key: str | None = None) -> Diagnosis:
    """Send one instrumented request to ``base_url`` and report what went out and what came back."""
    result = Diagnosis(provider=provider, base_url=base_url)
    api_key = api_key or os.environ.get(KEY_ENV[provider]) or "aigw-trace-doctor"
    try:
        from ..testing._in_memory import InMemoryTelemetry
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
        result.not_sent_because = why_not_sent(wire.request, settings, suppressed, bool(spans))
    result.verdict, result.exit_code = conclude(result)
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
        result.body = redact(summarise_body(content_type, wire.body, int(headers.get("content-length") or 0)), api_key)
    if result.status >= 400 or "html" in content_type.lower():
        result.hint = status_hint(result.provider, result.base_url, result.status, content_type)


def _read_failure(result: Diagnosis, exc: Exception, api_key: str) -> None:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):  # an HTTP error answer: the body is summarised on its own line, never dumped
        result.error = f"{type(exc).__name__} (HTTP {status})"
        return
    cause = root_cause(exc)
    detail = str(cause) if cause is not exc else str(exc)
    result.error = redact(f"{type(exc).__name__}: {one_line(detail)}", api_key)
    result.hint = connection_hint(exc, result.base_url, TIMEOUT)
