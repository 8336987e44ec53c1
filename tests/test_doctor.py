"""aigw-trace doctor against a loopback gateway: joined, restarted, and can't-tell cases, through the CLI."""

from __future__ import annotations

import io

import pytest
from opentelemetry.sdk.trace import TracerProvider

from aigw_trace._cli import main
from aigw_trace._doctor import diagnose, render
from aigw_trace.testing import Fault, LoopbackGateway


@pytest.fixture
def traced_gateway():
    with LoopbackGateway(tracer_provider=TracerProvider()) as gateway:
        yield gateway


def test_a_gateway_that_continues_the_trace_is_reported_joined(traced_gateway):
    d = diagnose("openai", traced_gateway.openai_base_url, model="gpt-4o-mini", api_key="k")
    assert d.ok
    assert d.status == 200
    assert d.verdict.startswith("JOINED")
    assert d.trace_id == traced_gateway.last_request.trace_id
    assert d.sent_parent == traced_gateway.last_request.parent_span_id
    assert "litellm" in d.gateways
    assert d.span_name == "chat gpt-4o-mini"


def test_a_gateway_that_restarts_the_trace_is_reported_not_joined():
    with LoopbackGateway(tracer_provider=TracerProvider(), restart_trace=True) as gateway:
        d = diagnose("openai", gateway.openai_base_url, model="gpt-4o-mini", api_key="k")
    assert d.verdict.startswith("NOT JOINED")
    out = io.StringIO()
    render(d, out)
    assert "hint (litellm)" in out.getvalue()


def test_without_traceresponse_the_doctor_says_it_cannot_tell():
    with LoopbackGateway(gateway_headers=False) as gateway:  # no tracer provider: no traceresponse
        d = diagnose("openai", gateway.openai_base_url, api_key="k")  # GET /models
    assert d.ok
    assert d.verdict.startswith("UNKNOWN")
    assert d.trace_id is not None
    assert d.span_name == "models.list"


def test_a_failing_gateway_is_reported_and_the_exit_code_says_so(traced_gateway, capsys):
    traced_gateway.inject(Fault.error(503))
    code = main(["doctor", "--base-url", traced_gateway.openai_base_url, "--model", "gpt-4o-mini"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out
    assert "InternalServerError" in out


def test_the_doctor_never_prints_the_api_key(traced_gateway, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-key")
    assert main(["doctor", "--base-url", traced_gateway.openai_base_url, "--model", "gpt-4o-mini"]) == 0
    out = capsys.readouterr().out
    assert "JOINED" in out
    assert "sk-very-secret-key" not in out
    assert traced_gateway.last_request.headers["authorization"] == "Bearer sk-very-secret-key"
