"""What importing aigw-trace and instrumenting load (modules, not time: time is `nox -s bench-startup`'s), and the
dependency check's shortcut agreeing with opentelemetry-instrumentation's own."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap

import openai
import pytest
from packaging.requirements import Requirement

import aigw_trace
from aigw_trace import _instrumentor
from aigw_trace._config import Settings
from aigw_trace._providers import providers

HEAVY = ("packaging", "wrapt", "opentelemetry.instrumentation", "opentelemetry.sdk", "aigw_trace._wrap", "asyncio")


def loaded_after(code: str) -> dict[str, list[str]]:
    """Which of HEAVY's packages are imported after the setup in ``code`` (which fills ``stages``)."""
    script = (
        textwrap.dedent(
            f"""
        import json, sys
        HEAVY = {HEAVY!r}
        def heavy():
            return sorted({{h for h in HEAVY for m in sys.modules if m == h or m.startswith(h + ".")}})
        stages = {{}}
        """
        )
        + textwrap.dedent(code)
        + "\nprint(json.dumps(stages))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.splitlines()[-1])


def test_import_loads_neither_opentelemetry_instrumentation_nor_wrapt_nor_the_wrapping_code():
    stages = loaded_after(
        """
        import aigw_trace
        stages["import"] = heavy()
        assert "aigw_trace._instrumentor" not in sys.modules
        stages["public"] = sorted(n for n in dir(aigw_trace) if not n.startswith("_"))
        """
    )
    assert stages["import"] == []
    assert stages["public"] == sorted(n for n in aigw_trace.__all__ if not n.startswith("_"))


def test_instrument_with_the_sdk_imported_does_not_import_packaging():
    stages = loaded_after(
        """
        import openai
        import aigw_trace
        aigw_trace.instrument()
        stages["instrumented"] = heavy()
        stages["patched"] = [hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__")]
        stages["state"] = [aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry]
        aigw_trace.uninstrument()
        stages["undone"] = [hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__"),
                            aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry]
        """
    )
    assert "packaging" not in stages["instrumented"]
    assert "aigw_trace._wrap" in stages["instrumented"]
    assert stages["patched"] == [True]
    assert stages["state"] == [True]  # the entry point's class sees what instrument() did
    assert stages["undone"] == [False, False]


def test_instrument_compiles_no_endpoint_and_imports_neither_wrapt_nor_opentelemetry_instrumentation():
    """Endpoint tables compile on each endpoint's first call, not when the provider modules are imported: count every
    compilation from before they are imported to after ``instrument()``, then make one chat call."""
    stages = loaded_after(
        """
        import openai, anthropic, httpx2
        from aigw_trace._providers import _reader, _request, _spec
        compiled = []
        def counting(module, name):
            original = getattr(module, name)
            def count(*args, **kwargs):
                if not kwargs.get("lazy"):
                    compiled.append(name)
                return original(*args, **kwargs)
            setattr(module, name, count)
        counting(_spec, "compile_request")
        counting(_request, "_compile_apply")
        counting(_reader, "_compile_store")
        import aigw_trace
        aigw_trace.instrument()
        stages["instrumented"] = heavy()
        stages["compiled at instrument()"] = list(compiled)
        def reply(request):
            return httpx2.Response(200, json={"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                                              "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2,
                                                                       "total_tokens": 3}})
        client = openai.OpenAI(api_key="k", base_url="http://gateway.test/v1",
                               http_client=httpx2.Client(transport=httpx2.MockTransport(reply)))
        for _ in range(2):
            client.chat.completions.create(model="m", messages=[], temperature=0.5, response_format={"type": "text"})
        stages["compiled by two chat calls"] = sorted(set(compiled))
        """
    )
    assert stages["compiled at instrument()"] == []
    assert stages["compiled by two chat calls"] == ["_compile_apply", "_compile_store", "compile_request"]
    assert "wrapt" not in stages["instrumented"]
    assert "opentelemetry.instrumentation" not in stages["instrumented"]


ONLY_WHEN_USED = ("aigw_trace._hooks", "aigw_trace._content", "aigw_trace._inject", "opentelemetry._logs",
                  "opentelemetry.propagate", "opentelemetry.baggage")  # fmt: skip


def test_hooks_content_events_and_injection_are_imported_only_when_asked_for():
    """A default ``instrument()`` imports neither the hooks' dataclasses, nor the content serialiser, nor the logs
    API, nor the injection module with OpenTelemetry's propagators: the first HTTP attempt imports the last and still
    sends the span's ``traceparent``; hooks, content and events asked for by a later ``instrument()`` are imported
    by it, once, not by a call, and all work."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import json, sys
        import openai, anthropic, httpx2
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import aigw_trace

        def loaded():
            return sorted(m for m in {ONLY_WHEN_USED!r} if m in sys.modules)

        out = {{"before": loaded()}}
        exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        aigw_trace.instrument(tracer_provider=tracer_provider)
        out["instrument()"] = loaded()
        sent = []
        def reply(request):
            sent.append(request.headers.get("traceparent"))
            return httpx2.Response(200, json={{"id": "c", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{{"index": 0, "finish_reason": "stop",
                              "message": {{"role": "assistant", "content": "hi"}}}}],
                "usage": {{"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}}})
        client = openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", max_retries=0,
                               http_client=httpx2.Client(transport=httpx2.MockTransport(reply)))
        def chat():
            client.chat.completions.create(model="m", messages=[{{"role": "user", "content": "hello"}}])
        chat()
        out["first call"] = loaded()
        (span,) = exporter.get_finished_spans()
        c = span.context
        out["traceparent"] = [sent[0], f"00-{{c.trace_id:032x}}-{{c.span_id:016x}}-{{c.trace_flags:02x}}"]
        aigw_trace.uninstrument()

        from aigw_trace.testing import InMemoryTelemetry
        tel = InMemoryTelemetry()
        seen = []
        tel.instrument(capture_content="span_and_event",
                       request_hook=lambda span, info: seen.append(isinstance(info, aigw_trace.RequestInfo)),
                       response_hook=lambda span, info: seen.append(isinstance(info, aigw_trace.ResponseInfo)))
        out["instrument() with hooks, content and events"] = loaded()
        chat()
        out["call with hooks"] = loaded()
        out["hooks saw"] = seen
        out["span content"] = [tel.span().attributes.get("gen_ai.input.messages")]
        out["events"] = [r.log_record.event_name for r in tel.logs()]
        print(json.dumps(out))
        """)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["before"] == []
    assert out["instrument()"] == []
    assert out["first call"] == ["aigw_trace._inject", "opentelemetry.baggage", "opentelemetry.propagate"]
    sent, expected = out["traceparent"]
    assert sent == expected
    assert {"aigw_trace._content", "aigw_trace._hooks", "opentelemetry._logs"} <= set(
        out["instrument() with hooks, content and events"]
    )
    assert out["call with hooks"] == out["instrument() with hooks, content and events"]
    assert out["hooks saw"] == [True, True]
    assert json.loads(out["span content"][0]) == [{"role": "user", "parts": [{"type": "text", "content": "hello"}]}]
    assert out["events"] == ["gen_ai.client.inference.operation.details"]


def test_settings_and_providers_keep_what_their_dataclasses_gave():
    """Written out rather than generated by ``dataclass`` (cheaper at ``instrument()``), with the same semantics:
    settings equal and hashed by every field but ``options``, providers by identity; both immutable."""
    resolved, default = Settings.resolve({}, env={}), Settings()
    assert resolved == default
    assert hash(resolved) == hash(default)
    assert resolved.options
    assert not default.options
    assert Settings(propagate=False) != default
    assert (default == object()) is False
    assert "propagate=True" in repr(default)
    assert "options" not in repr(default)
    with pytest.raises(AttributeError):
        default.propagate = False  # type: ignore[misc]
    (provider,) = [p for p in providers() if p.package == "openai"]
    narrowed = provider._replace(supported="openai >= 99")
    assert (narrowed.supported, narrowed.route, narrowed.layout) == ("openai >= 99", provider.route, provider.layout)
    assert provider._replace() != provider  # the same values, another provider
    assert len({provider, provider._replace()}) == 2
    with pytest.raises(AttributeError):
        provider.package = "other"  # type: ignore[misc]


def test_suppression_keys_are_the_ones_opentelemetry_instrumentation_sets():
    """``_wrap`` reads ``suppress_instrumentation()``'s context keys without importing its module (which imports
    wrapt): they must stay that module's."""
    from opentelemetry.instrumentation import utils

    from aigw_trace import _wrap

    assert _wrap._SUPPRESS_KEYS == (utils._SUPPRESS_INSTRUMENTATION_KEY, utils._SUPPRESS_INSTRUMENTATION_KEY_PLAIN)
    with utils.suppress_instrumentation():
        assert not _wrap.is_instrumentation_enabled()
    assert _wrap.is_instrumentation_enabled()


def test_entry_point_class_and_instrument_share_one_state():
    aigw_trace.uninstrument()
    aigw_trace.AIGatewayInstrumentor().instrument()
    try:
        assert hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__")
        aigw_trace.instrument()  # already on: a no-op, not a second wrapping
        assert not hasattr(openai._base_client.SyncAPIClient.request.__wrapped__, "__wrapped__")
    finally:
        aigw_trace.uninstrument()
    assert not aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry
    assert not hasattr(openai._base_client.SyncAPIClient.request, "__wrapped__")


@pytest.mark.parametrize(
    "supported",
    [
        "openai >= 1.26.0, < 4",
        "openai >= 3.54",
        "openai >= 3.54.1",
        "openai > 3.54.0",
        "openai < 3.54",
        "openai <= 3.54",
        "openai == 3.54",
        "openai == 3.54.0.0",
        "openai >= 99",
        "openai < 3",
        "openai ~= 3.0",  # not one of the simple bounds: undecided
        "openai != 3.54.0",
        "openai >= 3.0a1",
    ],
)
@pytest.mark.parametrize("version", ["3.54.0", "3.54", "3.54.1", "3.0.0rc1", "4"])
def test_shortcut_agrees_with_packaging_or_abstains(monkeypatch, supported, version):
    monkeypatch.setattr(openai, "__version__", version)
    (provider,) = [p._replace(supported=supported) for p in providers() if p.package == "openai"]
    decided = _instrumentor._release_in_range(provider)
    if decided is not None:
        assert decided == Requirement(supported).specifier.contains(version, prereleases=True)


def test_an_sdk_release_out_of_range_is_still_named_by_the_exact_check(monkeypatch, caplog):
    """The shortcut only ever says yes: out of range, the one-line warning is the provider's own."""
    original = openai._base_client.SyncAPIClient.request
    narrowed = tuple(p._replace(supported="openai >= 99") if p.package == "openai" else p for p in providers())
    monkeypatch.setattr("aigw_trace._instrumentor.providers", lambda: narrowed)
    aigw_trace.uninstrument()
    caplog.set_level(logging.DEBUG, logger="aigw_trace")
    aigw_trace.instrument()
    try:
        assert openai._base_client.SyncAPIClient.request is original
        (line,) = [r.getMessage() for r in caplog.records if r.name == "aigw_trace"]
        assert "openai >= 99" in line
    finally:
        aigw_trace.uninstrument()


def test_no_sdk_in_range_goes_through_base_instrumentor(monkeypatch, caplog):
    """Neither SDK in range: the dependency conflict is reported as BaseInstrumentor reports it, nothing patched."""
    original = openai._base_client.SyncAPIClient.request
    narrowed = tuple(p._replace(supported=f"{p.package} >= 99") for p in providers())
    monkeypatch.setattr("aigw_trace._instrumentor.providers", lambda: narrowed)
    aigw_trace.uninstrument()
    caplog.set_level(logging.DEBUG)
    aigw_trace.instrument()
    try:
        assert openai._base_client.SyncAPIClient.request is original
        assert not aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert errors[0].name == "opentelemetry.instrumentation.instrumentor"
        assert "AIGatewayInstrumentor" in errors[0].getMessage()
    finally:
        aigw_trace.uninstrument()
