"""The options table is the one source of truth, and every option is strict: a bad keyword raises naming the option,
a bad environment value warns once and keeps the default, hooks come from import paths, a second instrument()
says what it ignored."""

from __future__ import annotations

import inspect
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import aigw_trace
from aigw_trace import AIGatewayInstrumentor, ContentMode
from aigw_trace import _attributes as A
from aigw_trace._config import Settings
from aigw_trace._options import BY_NAME, MIN_CONTENT_MAX_LENGTH, OPTIONS, with_table
from tests.conftest import Reply
from tests.providers.test_openai_chat import MESSAGES, completion

ROOT = Path(__file__).parents[1]
PROVIDERS = ["tracer_provider", "meter_provider", "logger_provider"]


def tag_request(span: Any, info: aigw_trace.RequestInfo) -> None:
    span.set_attribute("test.request_hook", info.operation)


def tag_response(span: Any, info: aigw_trace.ResponseInfo) -> None:
    span.set_attribute("test.response_hook", info.stream)


NOT_CALLABLE = 42

# For each option: a valid, non-default environment spelling and the value it means.
ENV_EXAMPLES: dict[str, tuple[str, object]] = {
    "capture_content": ("Span_And_Event", ContentMode.SPAN_AND_EVENT),
    "emit_event": ("TRUE", True),
    "content_max_length": ("300", 300),
    "time_per_output_chunk": ("true", True),
    "stream_usage": ("true", True),
    "metrics_under_genai_spans": ("true", True),
    "propagate": ("false", False),
    "inject_hosts": (" gw.internal , *.corp.example", ("gw.internal", "*.corp.example")),
    "gateway": ("litellm,Envoy", ("litellm", "envoy")),
    "response_headers": ("X-Request-Id", ("x-request-id",)),
    "traceresponse": ("false", False),
    "session_baggage": ("true", True),
    "session_headers": ("agent-session-id", ("agent-session-id",)),
    "request_hook": ("tests.test_options:tag_request", tag_request),
    "response_hook": ("tests.test_options:tag_response", tag_response),
}


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# --- the table drives everything ---


def test_instrument_signature_is_the_table():
    params = inspect.signature(aigw_trace.instrument).parameters
    assert list(params) == PROVIDERS + [o.name for o in OPTIONS]
    for option in OPTIONS:
        param = params[option.name]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY
        assert param.default is None  # None: from the environment, else the default
        assert param.annotation == option.kind.annotation
    for option in OPTIONS:  # and the docstring lists each option with its environment variable
        assert f"``{option.name}`` (``{option.env}``" in (aigw_trace.instrument.__doc__ or "")


def test_settings_are_the_table():
    fields = set(Settings.__slots__) - {"options"}
    assert fields == {o.setting for o in OPTIONS}
    resolved = Settings.resolve({}, env={})
    assert resolved == Settings()  # the class's defaults are the table's defaults
    for option in OPTIONS:
        expected = False if option.name == "emit_event" else option.default  # derived: off for no_content
        assert resolved.options[option.name] == expected, option.name


def test_every_option_has_its_own_environment_variable():
    names = [o.env for o in OPTIONS]
    assert all(names)
    assert len(set(names)) == len(names)
    assert set(ENV_EXAMPLES) == set(BY_NAME), "a new option needs an example here"


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_each_environment_variable_sets_its_option(option, caplog):
    caplog.set_level(logging.WARNING)
    text, expected = ENV_EXAMPLES[option.name]
    assert option.env is not None
    resolved = Settings.resolve({}, env={option.env: text})
    assert resolved.options[option.name] == expected
    assert expected != Settings.resolve({}, env={}).options[option.name]
    assert warnings_of(caplog) == []
    # The keyword means the same (hooks by object, not by import path).
    keyword = expected if option.name.endswith("_hook") else text if isinstance(expected, tuple) else expected
    assert Settings.resolve({option.name: keyword}, env={}).options[option.name] == expected


def test_configuration_docs_are_the_table():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == with_table(page), 'regenerate: python -c "import aigw_trace._options as o; o.update_docs()"'
    for option in OPTIONS:
        assert f"| `{option.name}` |" in page


def test_misspelt_keyword_is_a_type_error_and_instruments_nothing():
    aigw_trace.uninstrument()
    with pytest.raises(TypeError, match="capture_contents"):
        aigw_trace.instrument(capture_contents=True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="capture_contents"):
        AIGatewayInstrumentor().instrument(capture_contents=True)
    assert not AIGatewayInstrumentor().is_instrumented_by_opentelemetry


def test_public_surface_is_exactly_all():
    # In a fresh interpreter: under pytest, assertion rewriting adds names of its own to the package.
    code = "import aigw_trace; print(sorted(n for n in dir(aigw_trace) if not n.startswith('_')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == str(sorted(n for n in aigw_trace.__all__ if not n.startswith("_")))


# --- strict keyword values ---


@pytest.mark.parametrize(
    ("name", "value", "error", "accepted"),
    [
        ("propagate", "false", TypeError, "True or False"),
        ("emit_event", 1, TypeError, "True or False"),
        ("traceresponse", "yes", TypeError, "True or False"),
        ("capture_content", "everything", ValueError, '"span_only"'),
        ("capture_content", "true", ValueError, '"span_only"'),
        ("capture_content", 1, TypeError, '"span_only"'),
        ("content_max_length", 0, ValueError, "an int ≥ 64"),
        ("content_max_length", -5, ValueError, "an int ≥ 64"),
        ("content_max_length", 63, ValueError, "an int ≥ 64"),
        ("content_max_length", 1000.0, TypeError, "an int ≥ 64"),
        ("content_max_length", "abc", TypeError, "an int ≥ 64"),
        ("content_max_length", True, TypeError, "an int ≥ 64"),
        ("gateway", "litellm,litelm", ValueError, "`litellm`, `envoy`"),
        ("response_headers", ["x-request-id", "x-api-key"], ValueError, "not credential-like"),
        ("response_headers", [b"x-request-id"], TypeError, "header names"),
        ("inject_hosts", "https://gw.internal/v1", ValueError, "host names"),
        ("session_headers", "bad header", ValueError, "header names"),
        ("request_hook", "tests.test_options:tag_request", TypeError, "a callable (span, RequestInfo)"),
    ],
)
def test_bad_keyword_values_raise_naming_the_option_and_what_it_accepts(name, value, error, accepted):
    with pytest.raises(error) as raised:
        Settings.resolve({name: value}, env={})
    message = str(raised.value)
    assert f"{name}={value!r}" in message
    assert f"accepted: {BY_NAME[name].kind.accepted}" in message
    assert accepted in message


def test_refused_keyword_leaves_the_sdk_uninstrumented(aigw_telemetry, fake_api, openai_client):
    aigw_trace.uninstrument()
    fake_api.reply(Reply(json=completion()))
    with pytest.raises(TypeError, match="propagate='false'"):
        aigw_trace.instrument(tracer_provider=aigw_telemetry.tracer_provider, propagate="false")  # type: ignore[arg-type]
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "traceparent" not in fake_api.headers[0]
    assert aigw_telemetry.genai_spans() == []


def test_propagate_false_from_the_environment_keeps_the_span_and_injects_nothing(
    aigw_telemetry, fake_api, openai_client, monkeypatch
):
    monkeypatch.setenv("AIGW_TRACE_PROPAGATE", "False")
    aigw_telemetry.instrument()
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "traceparent" not in fake_api.headers[0]
    assert aigw_telemetry.span().name == "chat gpt-4o"


# --- exact environment spellings ---


@pytest.mark.parametrize(
    ("env", "raw", "accepted"),
    [
        ("AIGW_TRACE_PROPAGATE", "0", "`true`, `false`"),
        ("AIGW_TRACE_PROPAGATE", "no", "`true`, `false`"),
        ("AIGW_TRACE_TRACERESPONSE", "off", "`true`, `false`"),
        ("AIGW_TRACE_SESSION_BAGGAGE", "1", "`true`, `false`"),
        ("AIGW_TRACE_SESSION_BAGGAGE", "yes", "`true`, `false`"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "1", "`span_only`"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "yes", "`span_only`"),
        ("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "on", "`span_only`"),
        ("AIGW_TRACE_CONTENT_MAX_LENGTH", "0", "integer ≥ 64"),
        ("AIGW_TRACE_CONTENT_MAX_LENGTH", "63", "integer ≥ 64"),
        ("AIGW_TRACE_CONTENT_MAX_LENGTH", "1e5", "integer ≥ 64"),
        ("AIGW_TRACE_CONTENT_MAX_LENGTH", "abc", "integer ≥ 64"),
        ("AIGW_TRACE_REQUEST_HOOK", "tests.test_options.tag_request", "package.module:function"),
    ],
)
def test_other_environment_spellings_warn_once_and_keep_the_default(env, raw, accepted, caplog):
    caplog.set_level(logging.WARNING)
    resolved = Settings.resolve({}, env={env: raw})
    assert resolved == Settings()
    (warning,) = warnings_of(caplog)
    assert f"{env}={raw!r}" in warning
    assert accepted in warning


def test_spellings_are_trimmed_and_empty_means_unset(caplog):
    caplog.set_level(logging.WARNING)
    assert Settings.resolve({}, env={"AIGW_TRACE_PROPAGATE": " FALSE\n"}).propagate is False
    empty = {o.env: " " for o in OPTIONS if o.env}
    assert Settings.resolve({}, env=empty) == Settings()
    assert warnings_of(caplog) == []


def test_content_max_length_minimum_is_accepted_both_ways():
    assert Settings.resolve({"content_max_length": MIN_CONTENT_MAX_LENGTH}, env={}).content_max_length == 64
    assert Settings.resolve({}, env={"AIGW_TRACE_CONTENT_MAX_LENGTH": "64"}).content_max_length == 64


# --- lists: one bad entry drops only itself ---


def test_a_refused_header_from_the_environment_drops_only_that_name(caplog):
    caplog.set_level(logging.WARNING)
    env = {"AIGW_TRACE_GATEWAY": "envoy,litelm", "AIGW_TRACE_RESPONSE_HEADERS": "x-request-id,X-Api-Key,x-upstream"}
    headers = [h for h, _ in Settings.resolve({}, env=env).response_headers]
    assert headers == ["x-envoy-upstream-service-time", "x-request-id", "x-upstream"]
    warnings = warnings_of(caplog)
    assert len(warnings) == 2
    assert "AIGW_TRACE_GATEWAY" in warnings[0]
    assert "'litelm'" in warnings[0]
    assert "AIGW_TRACE_RESPONSE_HEADERS" in warnings[1]
    assert "'x-api-key'" in warnings[1]
    assert "credential" in warnings[1]


def test_refused_header_still_records_the_others_on_the_span(aigw_telemetry, fake_api, openai_client, monkeypatch):
    monkeypatch.setenv("AIGW_TRACE_RESPONSE_HEADERS", "x-request-id,authorization-echo")
    aigw_telemetry.instrument()
    fake_api.reply(Reply(json=completion(), headers={"x-request-id": "req-7", "authorization-echo": "Bearer sk"}))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    recorded = {k: v for k, v in aigw_telemetry.span().attributes.items() if k.startswith("aigw.response.header.")}
    assert recorded == {"aigw.response.header.x-request-id": "req-7"}


def test_keyword_and_environment_of_different_options_combine():
    # Each option on its own: a keyword for one header option leaves the other to its environment variable.
    s = Settings.resolve({"gateway": ["kong"]}, env={"AIGW_TRACE_RESPONSE_HEADERS": "x-request-id"})
    assert [h for h, _ in s.response_headers] == [
        "x-kong-upstream-latency",
        "x-kong-proxy-latency",
        "x-kong-upstream-status",
        "x-request-id",
    ]


# --- content bounded ---


@pytest.mark.aigw_options(capture_content="span_only", content_max_length=MIN_CONTENT_MAX_LENGTH)
def test_content_at_the_smallest_limit_is_valid_json_within_it(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    long = [{"role": "system", "content": "s" * 500}, {"role": "user", "content": "u" * 500}]
    openai_client().chat.completions.create(model="gpt-4o", messages=long)
    attrs = aigw_telemetry.span().attributes
    for key in (A.INPUT_MESSAGES, A.OUTPUT_MESSAGES):
        text = attrs[key]
        assert len(text) <= MIN_CONTENT_MAX_LENGTH
        assert isinstance(json.loads(text), list)


# --- hooks by import path ---


def test_hooks_from_the_environment_run(aigw_telemetry, fake_api, openai_client, monkeypatch):
    monkeypatch.setenv("AIGW_TRACE_REQUEST_HOOK", "tests.test_options:tag_request")
    monkeypatch.setenv("AIGW_TRACE_RESPONSE_HOOK", "tests.test_options:tag_response")
    aigw_telemetry.instrument()
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    attrs = aigw_telemetry.span().attributes
    assert attrs["test.request_hook"] == "chat"
    assert attrs["test.response_hook"] is False


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tag_request", "package.module:function"),
        ("tests.no_such_module:hook", "ModuleNotFoundError"),
        ("tests.test_options:missing", "AttributeError"),
        ("tests.test_options:NOT_CALLABLE", "not callable"),
    ],
)
def test_a_bad_hook_path_logs_one_line_and_is_ignored(path, reason, aigw_telemetry, fake_api, openai_client,
                                                      monkeypatch, caplog):  # fmt: skip
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("AIGW_TRACE_REQUEST_HOOK", path)
    aigw_telemetry.instrument()
    (warning,) = warnings_of(caplog)
    assert "AIGW_TRACE_REQUEST_HOOK" in warning
    assert reason in warning
    assert "\n" not in warning
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert "test.request_hook" not in aigw_telemetry.span().attributes


# --- a second instrument() ---


def test_second_instrument_with_other_options_warns_once_and_changes_nothing(
    aigw_telemetry, fake_api, openai_client, caplog
):
    caplog.set_level(logging.WARNING)
    aigw_trace.instrument(capture_content="span_only", propagate=True)  # propagate is already on: not named
    (warning,) = warnings_of(caplog)
    assert "capture_content" in warning
    assert "propagate" not in warning
    assert "uninstrument()" in warning
    fake_api.reply(Reply(json=completion()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert A.INPUT_MESSAGES not in aigw_telemetry.span().attributes


def test_second_instrument_with_the_same_options_is_silent(aigw_telemetry, caplog):
    caplog.set_level(logging.WARNING)
    aigw_trace.instrument(capture_content=False, propagate=True)
    aigw_trace.instrument()
    assert warnings_of(caplog) == []


def test_after_zero_code_instrumentation_the_app_is_told_what_was_ignored(aigw_telemetry, monkeypatch, caplog):
    # As under opentelemetry-instrument: the instrumentor is instrumented first, from the environment.
    aigw_trace.uninstrument()
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    AIGatewayInstrumentor().instrument()
    caplog.set_level(logging.WARNING)
    aigw_trace.instrument(capture_content=True)  # what the environment already says: nothing to report
    assert warnings_of(caplog) == []
    aigw_trace.instrument(capture_content="event_only", tracer_provider=aigw_telemetry.tracer_provider)
    (warning,) = warnings_of(caplog)
    assert "capture_content, emit_event, tracer_provider" in warning
    with pytest.raises(ValueError, match="content_max_length"):
        aigw_trace.instrument(content_max_length=1)  # still validated
    aigw_trace.uninstrument()


# --- zero-code: every option from the environment ---


def test_opentelemetry_instrument_takes_options_and_hooks_from_the_environment(tmp_path):
    (tmp_path / "app_hooks.py").write_text(
        textwrap.dedent(
            """
            def on_request(span, info):
                span.set_attribute("app.hook", "request " + info.path)
            """
        )
    )
    bindir = Path(sys.executable).parent
    env = {"PATH": str(bindir), "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx,httpx2",
           "AIGW_TRACE_REQUEST_HOOK": "app_hooks:on_request", "AIGW_TRACE_RESPONSE_HOOK": "app_hooks:missing",
           "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only", "AIGW_TRACE_PROPAGATE": "0"}  # fmt: skip
    app = ROOT / "examples" / "quickstart.py"
    proc = subprocess.run([str(bindir / "opentelemetry-instrument"), sys.executable, str(app)],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"app.hook": "request /chat/completions"' in proc.stdout
    assert '"gen_ai.input.messages"' in proc.stdout
    # "0" is not an accepted spelling: one warning, and the default (inject) is kept.
    assert "traceparent the gateway received: 00-" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "aigw-trace:" in line]
    assert len(warnings) == 2, proc.stderr
    assert "AIGW_TRACE_RESPONSE_HOOK='app_hooks:missing'" in proc.stderr
    assert "AIGW_TRACE_PROPAGATE='0'" in proc.stderr
    assert "Traceback" not in proc.stderr
