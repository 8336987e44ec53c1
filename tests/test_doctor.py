"""aigw-trace doctor against a loopback gateway: what it says was sent is what the gateway received, why nothing was
sent when nothing was, the exit codes, and one-line hints for requests that fail."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys

import pytest
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider

from aigw_trace._cli import main
from aigw_trace._doctor import Diagnosis, diagnose, render, safe_url, summarise_body
from aigw_trace.testing import Fault, LoopbackGateway

_NOT_FOUND_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title><style>body{color:red}</style></head>\n"
    "<body><h1>Not Found</h1><p>The requested URL was not found on this server.</p>"
    + "<p>filler-paragraph</p>" * 200
    + "<p>END-OF-PAGE-MARKER</p></body></html>"
)


@pytest.fixture
def traced_gateway():
    with LoopbackGateway(tracer_provider=TracerProvider()) as gateway:
        yield gateway


@pytest.fixture
def baggage_only(monkeypatch):
    """``OTEL_PROPAGATORS=baggage`` as the app would have it: the env var, and the global propagator it builds
    (built at import time, so set here too)."""
    monkeypatch.setenv("OTEL_PROPAGATORS", "baggage")
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([W3CBaggagePropagator()]))
    yield
    propagate.set_global_textmap(previous)


def _printed(d: Diagnosis) -> str:
    out = io.StringIO()
    render(d, out)
    return out.getvalue()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the gateway's side ---


def test_a_gateway_that_continues_the_trace_is_reported_joined(traced_gateway, capsys):
    code = main(["doctor", "--base-url", traced_gateway.openai_base_url, "--model", "gpt-4o-mini"])
    out = capsys.readouterr().out
    received = traced_gateway.last_request
    assert code == 0
    assert "verdict: JOINED" in out
    assert f"sent:          traceparent: {received.traceparent}\n" in out
    assert "exit code: 0" in out

    d = diagnose("openai", traced_gateway.openai_base_url, model="gpt-4o-mini", api_key="k")
    received = traced_gateway.last_request
    assert d.exit_code == 0
    assert d.sent["traceparent"] == received.traceparent
    assert (d.trace_id, d.sent_parent) == (received.trace_id, received.parent_span_id)
    assert d.gateway_trace_id == received.trace_id
    assert d.traceresponse == received.response_headers["traceresponse"]
    assert d.request_line == f"POST {traced_gateway.openai_base_url}/chat/completions"
    assert "litellm" in d.gateways
    assert d.span_name == "chat gpt-4o-mini"


def test_anthropic_through_the_doctor_is_joined_too(traced_gateway):
    d = diagnose("anthropic", traced_gateway.anthropic_base_url, model="claude-haiku-4-5", api_key="k")
    assert d.exit_code == 0, _printed(d)
    assert d.sent["traceparent"] == traced_gateway.last_request.traceparent
    assert d.request_line == f"POST {traced_gateway.url}/v1/messages"


def test_a_gateway_that_restarts_the_trace_is_reported_not_joined():
    with LoopbackGateway(tracer_provider=TracerProvider(), restart_trace=True) as gateway:
        d = diagnose("openai", gateway.openai_base_url, model="gpt-4o-mini", api_key="k")
        received = gateway.last_request
    assert d.verdict.startswith("NOT JOINED")
    assert d.exit_code == 1
    assert d.sent["traceparent"] == received.traceparent  # sent fine: the gateway's side is the problem
    assert d.gateway_trace_id not in (None, d.trace_id)
    assert "advice (litellm)" in _printed(d)


def test_without_traceresponse_the_doctor_says_it_cannot_tell_and_exits_3():
    with LoopbackGateway(gateway_headers=False) as gateway:  # no tracer provider: no traceresponse
        d = diagnose("openai", gateway.openai_base_url, api_key="k")  # GET /models
        received = gateway.last_request
    assert d.ok
    assert d.verdict.startswith("UNKNOWN")
    assert d.exit_code == 3
    assert d.sent["traceparent"] == received.traceparent
    assert d.trace_id == received.trace_id
    assert d.span_name == "models.list"


def test_an_unsampled_traceparent_is_sent_and_said_to_be_unsampled(traced_gateway, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")  # read by the doctor's own tracer provider
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    assert traced_gateway.last_request.sampled is False
    assert d.sent["traceparent"] == traced_gateway.last_request.traceparent
    assert d.sampled is False
    assert d.exit_code == 3  # a parent-based gateway keeps it unsampled and returns no traceresponse
    assert "(unsampled" in _printed(d)


# --- nothing sent: the doctor says so, says why, and does not blame the gateway ---


def _assert_nothing_sent(d: Diagnosis, gateway: LoopbackGateway) -> str:
    assert gateway.last_request.traceparent is None
    assert "traceparent" not in d.sent
    assert d.trace_id is None
    assert d.exit_code == 1
    assert d.verdict.startswith("NOT SENT")
    out = _printed(d)
    assert "traceparent: 00-" not in out
    assert "not sent:      traceparent, because:" in out
    assert "the gateway is not at fault" in out
    assert "NOT JOINED" not in out
    assert "advice (" not in out
    return out


def test_baggage_only_propagators_send_no_traceparent_and_the_doctor_says_why(traced_gateway, baggage_only):
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    out = _assert_nothing_sent(d, traced_gateway)
    assert d.not_sent_because == [
        "the propagators (OTEL_PROPAGATORS=baggage) do not include `tracecontext`: they write baggage, "
        "no `traceparent`."
    ]
    assert "OTEL_PROPAGATORS=baggage" in out


def test_the_cli_under_otel_propagators_baggage_claims_nothing_was_sent(traced_gateway):
    # The whole way: a fresh interpreter builds its propagators from the environment variable itself.
    env = {**os.environ, "OTEL_PROPAGATORS": "baggage", "OPENAI_API_KEY": "k"}
    done = subprocess.run(
        [sys.executable, "-m", "aigw_trace", "doctor", "--base-url", traced_gateway.openai_base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert traced_gateway.last_request.traceparent is None
    assert "traceparent: 00-" not in done.stdout
    assert "OTEL_PROPAGATORS=baggage" in done.stdout
    assert "verdict: NOT SENT" in done.stdout


def test_injection_off_is_named_as_the_reason(traced_gateway, monkeypatch):
    monkeypatch.setenv("AIGW_TRACE_PROPAGATE", "false")
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    _assert_nothing_sent(d, traced_gateway)
    assert d.not_sent_because == ["injection is off: AIGW_TRACE_PROPAGATE='false'."]


def test_a_host_off_the_allow_list_is_named_as_the_reason(traced_gateway, monkeypatch):
    monkeypatch.setenv("AIGW_TRACE_INJECT_HOSTS", "llm-gateway.internal,*.example.com")
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    _assert_nothing_sent(d, traced_gateway)
    assert len(d.not_sent_because) == 1
    assert "'127.0.0.1' is not on the injection allow-list" in d.not_sent_because[0]
    assert "AIGW_TRACE_INJECT_HOSTS='llm-gateway.internal,*.example.com'" in d.not_sent_because[0]


def test_a_host_on_the_allow_list_gets_its_traceparent(traced_gateway, monkeypatch):
    monkeypatch.setenv("AIGW_TRACE_INJECT_HOSTS", "llm-gateway.internal,127.0.0.1")
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    assert d.exit_code == 0
    assert d.sent["traceparent"] == traced_gateway.last_request.traceparent
    assert d.not_sent_because == []


def test_suppressed_instrumentation_is_named_as_the_reason(traced_gateway):
    with suppress_instrumentation():
        d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    _assert_nothing_sent(d, traced_gateway)
    assert d.span_name is None
    assert d.not_sent_because == ["instrumentation is suppressed in the calling context (suppress_instrumentation())."]


# --- could not run: exit 2 and one line on what to try ---


def test_connection_refused_exits_2_with_a_hint(capsys):
    port = _closed_port()
    code = main(["doctor", "--base-url", f"http://127.0.0.1:{port}/v1"])
    out = capsys.readouterr().out
    assert code == 2
    assert f"hint:          connection refused: nothing listens on 127.0.0.1:{port};" in out
    assert "tried to send: traceparent: 00-" in out  # handed to the transport, never delivered
    assert "verdict: COULD NOT RUN" in out


def test_a_name_that_does_not_resolve_exits_2_with_a_dns_hint(monkeypatch):
    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)  # no resolver in the test: fail as one would
    d = diagnose("openai", "http://llm-gateway.invalid:4000/v1", api_key="k")
    assert d.exit_code == 2
    assert d.hint is not None
    assert d.hint.startswith("DNS: 'llm-gateway.invalid' does not resolve here")


def test_https_to_a_plain_http_gateway_exits_2_with_a_tls_hint(traced_gateway):
    d = diagnose("openai", f"https://127.0.0.1:{traced_gateway.port}/v1", api_key="k")
    assert d.exit_code == 2
    assert (
        d.hint
        == f"TLS: 127.0.0.1:{traced_gateway.port} does not speak TLS; if the gateway serves plain HTTP, use http://."
    )


def test_a_missing_sdk_exits_2_and_names_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "anthropic", None)  # import anthropic raises ImportError
    code = main(["doctor", "--provider", "anthropic", "--base-url", "http://127.0.0.1:1"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    (line,) = captured.err.splitlines()  # one line, on stderr, before anything is sent
    assert "pip install 'aigw-trace[anthropic]'" in line


# --- the request failed: exit 1, a hint, bodies summarised ---


def test_a_404_html_page_gets_a_hint_and_a_summary_not_a_dump(traced_gateway):
    traced_gateway.inject(Fault.raw_body(_NOT_FOUND_PAGE, status=404, content_type="text/html"))
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    out = _printed(d)
    assert d.exit_code == 1
    assert d.status == 404
    assert f'body:          HTML page, {len(_NOT_FOUND_PAGE)} bytes: "404 Not Found"\n' in out
    assert "hint:          404: the gateway serves nothing at this path" in out
    assert "END-OF-PAGE-MARKER" not in out
    assert "filler-paragraph" not in out
    assert "<" not in out.split("body:")[1].split("\n")[0]
    assert "verdict: REQUEST FAILED: HTTP 404" in out


def test_a_404_without_v1_hints_at_the_missing_v1(traced_gateway):
    d = diagnose("openai", traced_gateway.url, api_key="k")  # /models: the loopback serves /v1/models
    assert traced_gateway.last_request.path == "/models"
    assert d.exit_code == 1
    assert d.hint is not None
    assert "missing `/v1`" in d.hint
    assert d.body is not None
    assert d.body.endswith("bytes: Unknown route: GET /models")


def test_an_html_page_with_200_is_not_taken_for_the_api(traced_gateway):
    traced_gateway.inject(Fault.raw_body(_NOT_FOUND_PAGE, content_type="text/html; charset=utf-8"))
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    assert d.status == 200
    assert d.exit_code == 1
    assert d.verdict.startswith("NOT AN API ANSWER")
    assert "END-OF-PAGE-MARKER" not in _printed(d)


def test_a_failing_gateway_is_reported_and_the_exit_code_says_so(traced_gateway, capsys):
    traced_gateway.inject(Fault.error(503, "upstream overloaded"))
    code = main(["doctor", "--base-url", traced_gateway.openai_base_url, "--model", "gpt-4o-mini"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED (InternalServerError (HTTP 503))" in out
    assert "bytes: upstream overloaded\n" in out


@pytest.mark.parametrize(
    ("content_type", "body", "summary"),
    [
        (
            "text/html",
            "<html><body>\n\n  <h1>Bad   Gateway</h1><p>nginx</p></body></html>",
            'HTML page, {n} bytes: "Bad Gateway"',
        ),
        ("text/plain", "<!doctype html><title>\n Oops </title>", 'HTML page, {n} bytes: "Oops"'),
        ("application/json", '{"error": {"message": "model not found"}}', "{n} bytes: model not found"),
        ("text/plain", "\n  upstream connect error\nreset reason: overflow", "{n} bytes: upstream connect error"),
        ("text/plain", "x" * 500, "{n} bytes: " + "x" * 159 + "…"),
    ],
)
def test_bodies_are_summarised_in_one_line(content_type, body, summary):
    assert summarise_body(content_type, body.encode()) == summary.format(n=len(body))


# --- secrets ---


def test_the_doctor_never_prints_the_api_key(traced_gateway, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    assert main(["doctor", "--base-url", traced_gateway.openai_base_url, "--model", "gpt-4o-mini"]) == 0
    out = capsys.readouterr().out
    assert "JOINED" in out
    assert "sk-very-secret-key" not in out
    assert "authorization" not in out.lower()
    assert traced_gateway.last_request.headers["authorization"] == "Bearer sk-very-secret-key"


def test_an_error_body_echoing_the_key_is_redacted(traced_gateway, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    traced_gateway.inject(Fault.error(401, "Incorrect API key provided: sk-very-secret-key"))
    assert main(["doctor", "--base-url", traced_gateway.openai_base_url]) == 1
    out = capsys.readouterr().out
    assert "sk-very-secret-key" not in out
    assert "Incorrect API key provided: ***" in out
    assert "401: the gateway refused the credentials; set OPENAI_API_KEY" in out
    assert "verdict: REQUEST FAILED: HTTP 401" in out
    trace_id = traced_gateway.last_request.trace_id
    assert f"The trace context did reach the gateway: its `traceresponse` continues trace {trace_id}." in out


def test_a_disabled_sdk_is_named_as_the_reason(traced_gateway, monkeypatch):
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")  # the doctor's own tracer provider then makes no spans
    d = diagnose("openai", traced_gateway.openai_base_url, api_key="k")
    _assert_nothing_sent(d, traced_gateway)
    assert d.not_sent_because == [
        "OTEL_SDK_DISABLED=true: the OpenTelemetry SDK makes no spans, so there is no context to send."
    ]


def test_an_anthropic_sdk_without_a_models_resource_sends_the_same_request_by_path(traced_gateway, monkeypatch):
    import anthropic

    monkeypatch.delattr(anthropic.Anthropic, "models", raising=False)  # as anthropic 0.40 has none
    d = diagnose("anthropic", traced_gateway.anthropic_base_url, api_key="k")
    (request,) = traced_gateway.requests
    assert request.path.startswith("/v1/models")
    assert d.sent["traceparent"] == request.headers["traceparent"]
    assert d.exit_code == 0


def test_credentials_in_the_base_url_are_not_printed(traced_gateway):
    base = f"http://doctor:url-secret@127.0.0.1:{traced_gateway.port}/v1"
    d = diagnose("openai", base, api_key="k")
    out = _printed(d)
    assert d.exit_code == 0
    assert "url-secret" not in out
    assert f"client → http://***@127.0.0.1:{traced_gateway.port}/v1\n" in out


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://gw.internal/v1?api-key=s3cret", "https://gw.internal/v1?…"),
        ("https://user:pw@gw.internal:8443/v1", "https://***@gw.internal:8443/v1"),
        ("http://[::1]:4000/v1", "http://[::1]:4000/v1"),
        ("not a url", "not a url"),
    ],
)
def test_urls_are_shown_without_user_info_or_query(url, shown):
    assert safe_url(url) == shown
