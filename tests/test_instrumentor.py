"""instrument()/uninstrument(), the entry point, and working with one, both or neither SDK installed."""

from __future__ import annotations

import importlib.util
import logging
import subprocess
import sys
import textwrap
from importlib.metadata import entry_points, requires
from pathlib import Path

import openai
from packaging.requirements import Requirement

import aigw_trace
from aigw_trace import AIGatewayInstrumentor
from aigw_trace._providers import providers
from tests.conftest import Reply
from tests.providers.test_openai_chat import MESSAGES, completion


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_entry_point_loads_the_instrumentor():
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "aigw_trace"]
    assert ep.load() is AIGatewayInstrumentor


def test_dependencies_are_each_providers_supported_range():
    assert AIGatewayInstrumentor().instrumentation_dependencies() == tuple(p.supported for p in providers())
    # Either SDK alone is enough: with both installed in range there is no conflict.
    assert AIGatewayInstrumentor()._check_dependency_conflicts() is None


def test_package_metadata_states_the_same_ranges():
    """The extras and the `instruments-any` metadata (read by opentelemetry-instrument) repeat each provider's range."""
    by_extra: dict[str, set[tuple[str, str]]] = {}
    for line in requires("aigw-trace") or []:
        req = Requirement(line)
        for extra in ("openai", "anthropic", "instruments-any"):
            if req.marker is not None and req.marker.evaluate({"extra": extra}):
                by_extra.setdefault(extra, set()).add((req.name, str(req.specifier)))
    declared = {(Requirement(p.supported).name, str(Requirement(p.supported).specifier)) for p in providers()}
    assert by_extra["instruments-any"] == declared
    assert by_extra["openai"] | by_extra["anthropic"] == declared


def test_an_sdk_release_out_of_range_is_skipped_with_one_line(monkeypatch, caplog):
    original = openai._base_client.SyncAPIClient.request
    narrowed = tuple(p._replace(supported="openai >= 99") if p.package == "openai" else p for p in providers())
    monkeypatch.setattr("aigw_trace._instrumentor.providers", lambda: narrowed)
    caplog.set_level(logging.DEBUG, logger="aigw_trace")
    aigw_trace.instrument()
    try:
        assert openai._base_client.SyncAPIClient.request is original  # left alone
        lines = [r for r in caplog.records if r.name == "aigw_trace"]
        assert len(lines) == 1
        assert lines[0].exc_info is None  # one line, not a traceback
        message = lines[0].getMessage()
        assert f"openai {openai.__version__}" in message
        assert "openai >= 99" in message
    finally:
        aigw_trace.uninstrument()


def test_no_word_about_native_tracing_where_the_sdk_has_none(monkeypatch, caplog):
    """anthropic before 1.14 has no tracing of its own: nothing to replace, nothing to warn about."""
    import anthropic._base_client

    monkeypatch.delattr(anthropic._base_client, "start_api_call_span")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "anthropic._tracing" else real_find_spec(name, *a)
    )
    caplog.set_level(logging.DEBUG, logger="aigw_trace")
    aigw_trace.instrument()
    aigw_trace.uninstrument()
    assert not [r for r in caplog.records if r.name == "aigw_trace"]


def test_a_native_tracing_the_library_does_not_recognise_is_named(monkeypatch, caplog):
    import anthropic._base_client

    monkeypatch.delattr(anthropic._base_client, "start_api_call_span")
    caplog.set_level(logging.DEBUG, logger="aigw_trace")
    aigw_trace.instrument()
    aigw_trace.uninstrument()
    (line,) = [r for r in caplog.records if r.name == "aigw_trace"]
    assert "ANTHROPIC_OPEN_TELEMETRY=false" in line.getMessage()


def test_second_instrument_is_a_no_op_and_uninstrument_restores(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client()
    aigw_trace.instrument()  # already instrumented by the fixture: must not double-wrap
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(aigw_telemetry.genai_spans()) == 1

    aigw_trace.uninstrument()
    aigw_trace.uninstrument()  # idempotent
    client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(aigw_telemetry.genai_spans()) == 1
    assert "traceparent" not in fake_api.headers[1]
    assert not hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__")
    assert not hasattr(openai._base_client.BaseClient._build_request, "__wrapped__")


def test_patches_keep_the_sdk_methods_introspectable(aigw_telemetry):
    import inspect

    request = openai._base_client.SyncAPIClient.request
    assert request.__name__ == "request"
    assert request.__wrapped__ is not request
    assert inspect.signature(request) == inspect.signature(request.__wrapped__)
    assert inspect.iscoroutinefunction(openai._base_client.AsyncAPIClient.request)


def test_uninstrument_under_another_instrumentation_leaves_it_in_place(aigw_telemetry, fake_api, openai_client):
    # Another library patches the same method after us, then we are uninstrumented: its patch must survive, and ours
    # (still beneath it) must do nothing.
    import wrapt

    seen: list[str] = []

    def theirs(wrapped, instance, args, kwargs):
        seen.append("theirs")
        return wrapped(*args, **kwargs)

    cls = openai._base_client.SyncAPIClient
    ours = cls.__dict__["request"]
    wrapt.wrap_function_wrapper(cls, "request", theirs)
    try:
        aigw_trace.uninstrument()
        fake_api.reply(Reply(json=completion()))
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
        assert seen == ["theirs"]
        assert aigw_telemetry.genai_spans() == []
        assert "traceparent" not in fake_api.headers[0]
    finally:
        cls.request = ours.__wrapped__  # what the test's own wrapping hid: the SDK's original


def test_a_copy_of_the_sdk_method_left_on_a_client_class_is_patched_too(aigw_telemetry, fake_api, openai_client):
    # What OpenInference's uninstrument() leaves: the SDK's original ``request`` assigned onto ``openai.OpenAI``
    # itself, where it hides the base-class method aigw-trace patches.
    aigw_trace.uninstrument()
    base = openai._base_client.SyncAPIClient
    original = base.__dict__["request"]
    assert "request" not in vars(openai.OpenAI)
    openai.OpenAI.request = original
    try:
        aigw_telemetry.instrument()
        fake_api.reply(Reply(json=completion()))
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
        (span,) = aigw_telemetry.genai_spans()
        assert fake_api.headers[0]["traceparent"].split("-")[2] == f"{span.context.span_id:016x}"
        aigw_trace.uninstrument()
        assert vars(openai.OpenAI)["request"] is original  # the copy is put back as it was found
        assert base.__dict__["request"] is original
    finally:
        del openai.OpenAI.request


def test_sdk_imported_after_instrument_is_instrumented():
    out = run_python(
        """
        import sys
        import aigw_trace
        aigw_trace.instrument()
        assert "openai" not in sys.modules
        import openai
        print(hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__"))
        """
    )
    assert out == "True"


def test_instrument_succeeds_without_either_sdk():
    out = run_python(
        """
        import sys
        for name in ("openai", "anthropic", "httpx2"):
            sys.modules[name] = None      # makes `import openai` fail as if not installed
        import aigw_trace
        aigw_trace.instrument()
        with aigw_trace.attributes(conversation_id="c"):
            assert aigw_trace.enrich(user_id="u") is False
        aigw_trace.uninstrument()
        print("ok")
        """
    )
    assert out == "ok"


def test_opentelemetry_instrument_shows_the_genai_span():
    """The zero-code path: the example under ``opentelemetry-instrument`` with the console exporter."""
    example = Path(__file__).parents[1] / "examples" / "quickstart.py"
    bindir = Path(sys.executable).parent
    env = {"PATH": str(bindir), "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none",
           "OTEL_LOGS_EXPORTER": "none", "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx,httpx2"}  # fmt: skip
    proc = subprocess.run([str(bindir / "opentelemetry-instrument"), sys.executable, str(example)],
                          capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert '"name": "chat gpt-4o-mini"' in proc.stdout
    assert '"gen_ai.usage.input_tokens": 9' in proc.stdout
    # The traceparent the gateway received names the span the console exporter printed.
    received = proc.stdout.split("traceparent the gateway received: ")[1].split()[0]
    span_id = received.split("-")[2]
    assert f'"span_id": "0x{span_id}"' in proc.stdout
