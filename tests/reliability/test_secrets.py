"""No credential ever leaves through what aigw-trace adds, in any configuration.

API keys, ``Authorization``, ``x-api-key``, ``api-key`` (Azure), cookies and generated credential-like headers carry
generated secret values, on the client (``api_key``, ``default_headers``), on each call (``extra_headers``) and in
the gateway's response headers. Across content capture modes, gateway header presets, extra response headers,
hooks and session propagation, no secret may appear on a span (name, attributes, events, links, status), a log
record (OpenTelemetry or Python logging), a metric point's attributes, or any request header other than the one the
app put it in (so not in ``traceparent``, ``tracestate``, ``baggage`` or a session header).
"""

from __future__ import annotations

import logging
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import aigw_trace
from aigw_trace._gateway_headers import PRESETS
from tests.reliability import bodies
from tests.reliability.conftest import FULL
from tests.reliability.harness import Script, Server, client

CREDENTIAL_WORDS = ["authorization", "proxy-authorization", "x-api-key", "api-key", "cookie", "x-goog-api-key",
                    "x-auth-token", "x-amz-security-token", "x-portkey-api-key", "cf-aig-authorization",
                    "x-litellm-api-key", "ocp-apim-subscription-key", "x-access-token", "x-client-secret",
                    "x-password"]  # fmt: skip

header_names = st.one_of(
    st.sampled_from(CREDENTIAL_WORDS),
    st.from_regex(r"\Ax-[a-z]{1,6}-(key|token|secret|auth|password|cookie|apikey)\Z"),
).map(lambda name: name.upper() if len(name) % 3 == 0 else name)  # header names are case-insensitive

_ALNUM = string.ascii_letters + string.digits
secret_values = st.builds(lambda n, tail: f"SeCrEt{n}{tail}", st.integers(0, 10**6), st.text(_ALNUM, min_size=10,
                                                                                         max_size=24))  # fmt: skip
"""Distinctive enough that finding one anywhere is a leak, not a coincidence."""


def _hooks() -> dict[str, Any]:
    def request_hook(span: Any, info: Any) -> None:
        span.set_attribute("app.hook.request", info.operation)

    def response_hook(span: Any, info: Any) -> None:
        span.set_attribute("app.hook.response", info.error is None)

    return {"request_hook": request_hook, "response_hook": response_hook}


CONFIGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "span-content": {"capture_content": "span_only", "gateway": ",".join(PRESETS)},
    "event-content": {"capture_content": "event_only", "emit_event": True, "response_headers": "x-request-id"},
    "all-on": {"capture_content": "span_and_event", "emit_event": True, "gateway": ",".join(PRESETS),
               "response_headers": "x-request-id,x-echo", "session_baggage": True,
               "session_headers": "x-session-id,x-litellm-session-id", "time_per_output_chunk": True, **_hooks()},
}  # fmt: skip
FAST_CONFIGS = ("all-on",)


def _flatten(value: Any) -> str:
    return repr(value)


def emitted(telemetry: Any, records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    """(where, text) for everything the library emitted: spans, events, links, logs, metric attributes."""
    out: list[tuple[str, str]] = []
    for span in telemetry.spans():
        out.append((f"span {span.name}", _flatten([span.name, dict(span.attributes or {}), span.status.description])))
        for event in span.events:
            out.append((f"span event {event.name}", _flatten(dict(event.attributes or {}))))
        for link in span.links:
            out.append(("span link", _flatten(dict(link.attributes or {}))))
    for log in telemetry.logs():
        record = log.log_record
        out.append(("log record", _flatten([record.body, dict(record.attributes or {})])))
    for name, metric in telemetry.metrics().items():
        for point in metric.data.data_points:
            out.append((f"metric {name}", _flatten(dict(point.attributes or {}))))
    for record in records:
        out.append((f"python log {record.name}", record.getMessage() + repr(record.exc_info)))
    return out


class _All(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _calls(openai_sdk: Any, anthropic_sdk: Any, server: Server, extra: dict[str, str]) -> None:
    """A plain call and a stream of each SDK, read to the end; what they raise does not matter here."""
    for family, sdk in (("chat", openai_sdk), ("messages", anthropic_sdk)):
        fam = bodies.FAMILIES[family]
        assert fam.events is not None
        frames = bodies.encode_sse(fam, [(e.get("type"), e) for _, e in fam.events(fam.sources)])
        for stream in (False, True):
            server.reply(Script(chunks=frames) if stream else Script.json(fam.body(fam.sources)))
            server.scripts[0].headers.update(server_headers)
            with aigw_trace.attributes(conversation_id="conv-1"):
                if family == "chat":
                    result = sdk.chat.completions.create(
                        model="gpt-x", messages=[{"role": "user", "content": "hi"}], stream=stream, extra_headers=extra
                    )
                else:
                    result = sdk.messages.create(
                        model="claude-x", max_tokens=8, messages=[{"role": "user", "content": "hi"}], stream=stream,
                        extra_headers=extra,
                    )  # fmt: skip
                if stream:
                    for _ in result:
                        pass


server_headers: dict[str, str] = {}


@pytest.mark.parametrize("config", [c for c in CONFIGS if FULL or c in FAST_CONFIGS])
def test_no_secret_reaches_telemetry_or_added_headers(aigw_telemetry, config):
    aigw_telemetry.instrument(**CONFIGS[config])
    handler = _All()
    logging.getLogger().addHandler(handler)

    @given(
        api_key=secret_values,
        client_headers=st.dictionaries(header_names, secret_values, min_size=1, max_size=4),
        call_headers=st.dictionaries(header_names, secret_values, max_size=3),
        response_headers=st.dictionaries(header_names, secret_values, min_size=1, max_size=4),
    )
    def leak_nothing(api_key, client_headers, call_headers, response_headers) -> None:
        aigw_telemetry.span_exporter.clear()
        aigw_telemetry.log_exporter.clear()
        handler.records.clear()
        server = Server()
        server_headers.clear()
        server_headers.update(response_headers)
        server_headers.update({"x-litellm-call-id": "call-1", "x-request-id": "req-1"})
        kw = {"api_key": api_key, "default_headers": client_headers, "max_retries": 0}
        _calls(client(server, "openai", False, **kw), client(server, "anthropic", False, **kw), server, call_headers)

        secrets = {api_key, *client_headers.values(), *call_headers.values(), *response_headers.values()}
        leaks = [(where, s) for where, text in emitted(aigw_telemetry, handler.records) for s in secrets if s in text]
        assert not leaks, leaks
        assert aigw_telemetry.spans(), "nothing was traced"
        # A secret may only travel in a header the app (or the SDK, for the API key) put it in.
        allowed = {k.lower(): v for k, v in {**client_headers, **call_headers}.items()}
        for request in server.requests:
            for name, value in request.headers.multi_items():
                for s in secrets:
                    if s in value and not (allowed.get(name.lower()) == value or s == api_key):
                        raise AssertionError(f"secret in request header {name}: {value}")
                if name.lower() in ("traceparent", "tracestate", "baggage", "x-session-id"):
                    assert not any(s in value for s in secrets)

    try:
        leak_nothing()
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.mark.parametrize("name", ["x-amz-credential", "x-upstream-passwd", "x-jwt-assertion", "x-bearer"])
def test_bug_credential_like_response_header_names_are_refused(name):
    from aigw_trace._gateway_headers import header_names as resolve

    with pytest.raises(ValueError, match="credential"):
        resolve([], [name])


@given(name=header_names)
def test_generated_credential_header_names_are_refused_as_response_headers(name):
    from aigw_trace._gateway_headers import header_names as resolve

    with pytest.raises(ValueError, match="credential"):
        resolve([], [name])
