"""Gateway awareness through real SDK calls: response headers, traceresponse and links, sessions, injection policy,
hooks."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import baggage, context
from opentelemetry.trace import StatusCode

import aigw_trace
from aigw_trace import _attributes as A
from aigw_trace._gateway_headers import HostFilter, header_names, parse_traceresponse
from tests.conftest import Reply, ids, parent_of
from tests.providers.test_openai_chat import MESSAGES, completion

LITELLM_HEADERS = {
    "x-litellm-call-id": "call-9",
    "x-litellm-model-group": "fast",
    "x-litellm-response-cost": "0.00042",
    "x-litellm-attempted-retries": "0",
    "x-envoy-upstream-service-time": "12",
    "x-secret-internal": "nope",
}


def chat(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)


@pytest.mark.aigw_options(gateway="litellm,envoy")
def test_preset_headers_are_recorded_raw_under_one_prefix(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), headers=LITELLM_HEADERS))
    chat(openai_client())
    attrs = aigw_telemetry.span().attributes
    recorded = {k: v for k, v in attrs.items() if k.startswith(A.AIGW_RESPONSE_HEADER_PREFIX)}
    assert recorded == {
        "aigw.response.header.x-litellm-call-id": "call-9",
        "aigw.response.header.x-litellm-model-group": "fast",
        "aigw.response.header.x-litellm-response-cost": "0.00042",
        "aigw.response.header.x-litellm-attempted-retries": "0",
        "aigw.response.header.x-envoy-upstream-service-time": "12",
    }


def test_no_gateway_headers_without_a_preset(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), headers=LITELLM_HEADERS))
    chat(openai_client())
    assert not [k for k in aigw_telemetry.span().attributes if k.startswith(A.AIGW_RESPONSE_HEADER_PREFIX)]


@pytest.mark.aigw_options(response_headers=["x-request-id"])
def test_headers_of_a_failed_call_are_recorded_too(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=400, json={"error": {"message": "bad"}}, headers={"x-request-id": "req-1"}))
    with pytest.raises(Exception, match="bad"):
        chat(openai_client())
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["aigw.response.header.x-request-id"] == "req-1"


def test_header_options_refuse_typos_and_credentials():
    with pytest.raises(ValueError, match="unknown gateway preset"):
        header_names(["litelm"], [])
    with pytest.raises(ValueError, match="credential"):
        header_names([], ["x-api-key"])


def test_env_typo_warns_instead_of_failing(caplog):
    from aigw_trace._config import Settings

    caplog.set_level(logging.WARNING)
    assert Settings.resolve({}, env={"AIGW_TRACE_GATEWAY": "litelm"}).response_headers == ()
    assert "unknown gateway preset" in caplog.text


def test_traceresponse_on_the_same_trace_records_the_gateway_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), traceresponse_span="00f067aa0ba902b7"))
    chat(openai_client())
    span = aigw_telemetry.span()
    assert span.attributes[A.AIGW_GATEWAY_SPAN_ID] == "00f067aa0ba902b7"
    assert A.AIGW_GATEWAY_TRACE_ID not in span.attributes
    assert list(span.links) == []


def test_gateway_that_restarted_the_trace_is_linked(aigw_telemetry, fake_api, openai_client):
    other = "4bf92f3577b34da6a3ce929d0e0e4736"
    fake_api.reply(Reply(json=completion(), headers={"traceresponse": f"00-{other}-00f067aa0ba902b7-01"}))
    chat(openai_client())
    span = aigw_telemetry.span()
    assert span.attributes[A.AIGW_GATEWAY_TRACE_ID] == other
    (link,) = span.links
    assert format(link.context.trace_id, "032x") == other
    assert format(link.context.span_id, "016x") == "00f067aa0ba902b7"


@pytest.mark.parametrize("value", ["garbage", "00-zz-00f067aa0ba902b7-01", "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
                                   "00-" + "0" * 32 + "-" + "b" * 16 + "-01"])  # fmt: skip
def test_malformed_traceresponse_is_ignored(aigw_telemetry, fake_api, openai_client, value):
    assert parse_traceresponse(value) is None
    fake_api.reply(Reply(json=completion(), headers={"traceresponse": value}))
    chat(openai_client())
    assert A.AIGW_GATEWAY_SPAN_ID not in aigw_telemetry.span().attributes


@pytest.mark.aigw_options(traceresponse=False)
def test_traceresponse_can_be_turned_off(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), headers={"traceresponse": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"}))
    chat(openai_client())
    assert A.AIGW_GATEWAY_SPAN_ID not in aigw_telemetry.span().attributes


@pytest.mark.aigw_options(session_baggage=True, session_headers="agent-session-id,x-litellm-session-id")
def test_session_reaches_the_gateway_as_baggage_and_headers(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client()
    token = context.attach(baggage.set_baggage("tenant", "acme"))
    try:
        with aigw_trace.attributes(conversation_id="conv-1", user_id="u-1", secret_note="hidden"):
            chat(client)
        chat(client)  # no scope: no session
    finally:
        context.detach(token)
    scoped, plain = fake_api.headers
    assert sorted(scoped["baggage"].split(",")) == ["session.id=conv-1", "tenant=acme"]
    assert scoped["agent-session-id"] == "conv-1"
    assert scoped["x-litellm-session-id"] == "conv-1"
    assert "u-1" not in str(scoped)
    assert "hidden" not in str(scoped)
    assert plain["baggage"] == "tenant=acme"
    assert "agent-session-id" not in plain


@pytest.mark.aigw_options(session_baggage=True)
def test_app_session_baggage_is_not_overwritten(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    token = context.attach(baggage.set_baggage("session.id", "app-own"))
    try:
        with aigw_trace.attributes(conversation_id="conv-1"):
            chat(openai_client())
    finally:
        context.detach(token)
    assert fake_api.headers[0]["baggage"] == "session.id=app-own"


def test_session_is_not_sent_unless_asked(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    with aigw_trace.attributes(conversation_id="conv-1"):
        chat(openai_client())
    assert "baggage" not in fake_api.headers[0]
    assert aigw_telemetry.span().attributes[A.CONVERSATION_ID] == "conv-1"


@pytest.mark.aigw_options(inject_hosts=["gateway.internal", "*.corp.example"])
def test_injection_only_to_allowed_hosts(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    for base in ("http://gateway.internal/v1", "http://llm.corp.example/v1", "https://api.thirdparty.example/v1"):
        chat(openai_client(base_url=base))
    allowed, wildcard, third = fake_api.headers
    assert "traceparent" in allowed
    assert "traceparent" in wildcard
    assert "traceparent" not in third
    assert len(aigw_telemetry.genai_spans()) == 3  # spans either way


def test_host_filter_matching():
    f = HostFilter(["GW.example", "*.corp.example"])
    assert f.allows("gw.example")
    assert f.allows("a.b.corp.example")
    assert not f.allows("corp.example")
    assert not f.allows("evilcorp.example")
    assert not f.allows("gw.example.org")


def test_hooks_receive_request_and_response(aigw_telemetry, fake_api, openai_client):
    seen: list[Any] = []

    def on_request(span: Any, info: aigw_trace.RequestInfo) -> None:
        seen.append(info)
        span.set_attribute("app.route", info.path)

    def on_response(span: Any, info: aigw_trace.ResponseInfo) -> None:
        seen.append(info)
        span.set_attribute("app.answer", info.response.choices[0].message.content)

    aigw_telemetry.instrument(request_hook=on_request, response_hook=on_response)
    fake_api.reply(Reply(json=completion(), headers={"x-request-id": "r-1"}))
    chat(openai_client(), temperature=0.5)
    request, response = seen
    assert (request.provider, request.operation, request.model, request.method, request.path, request.stream) == (
        "openai", "chat", "gpt-4o", "post", "/chat/completions", False)  # fmt: skip
    assert request.body["temperature"] == 0.5
    assert response.error is None
    assert response.headers["x-request-id"] == "r-1"
    attrs = aigw_telemetry.span().attributes
    assert (attrs["app.route"], attrs["app.answer"]) == ("/chat/completions", "pong")


def test_a_failing_hook_is_logged_and_ignored(aigw_telemetry, fake_api, openai_client, caplog, monkeypatch):
    from aigw_trace import _safety

    monkeypatch.setattr(_safety, "_seen", set())

    def broken(span: Any, info: Any) -> None:
        raise RuntimeError("hook bug")

    aigw_telemetry.instrument(request_hook=broken, response_hook=broken)
    fake_api.reply(Reply(json=completion()))
    assert chat(openai_client()).id == "chatcmpl-1"
    span = aigw_telemetry.span()
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 11
    assert parent_of(fake_api.headers[0])[:2] == ids(span)
    assert len([r for r in caplog.records if "instrumentation failed" in r.getMessage()]) == 2
