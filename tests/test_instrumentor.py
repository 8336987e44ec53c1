"""instrument()/uninstrument(), the entry point, and working with one, both or neither SDK installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import openai

import aigw_trace
from aigw_trace import AIGatewayInstrumentor
from tests.conftest import Reply
from tests.providers.test_openai_chat import MESSAGES, completion


def run_python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_entry_point_loads_the_instrumentor():
    (ep,) = [e for e in entry_points(group="opentelemetry_instrumentor") if e.name == "aigw_trace"]
    assert ep.load() is AIGatewayInstrumentor


def test_dependency_check_never_refuses():
    assert list(AIGatewayInstrumentor().instrumentation_dependencies()) == []


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
