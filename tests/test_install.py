"""Installs with only ``opentelemetry-api`` (how libraries install instrumentations) are safe.

A real virtual environment holds aigw-trace's required dependencies and pytest, and neither the OpenTelemetry SDK
nor an LLM SDK; it is built once per session (about 2 s with ``uv`` and a warm cache). In it: an unrelated
project's pytest run stays green although the ``aigw_trace`` plugin is loaded, ``aigw_gateway`` works,
``aigw_telemetry`` fails with one line naming the extra, and ``demo`` / ``doctor`` exit 2 with one line.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from aigw_trace import _cli

ROOT = Path(__file__).resolve().parent.parent
API_ONLY = (
    "opentelemetry-api",
    "opentelemetry-instrumentation",
    "opentelemetry-semantic-conventions",
    "wrapt",
    "pytest",
)
"""Pinned to the versions of the running suite, so the venv is built from cached wheels and matches it."""


def _python_in(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def build_venv(root: Path, *requirements: str) -> Path:
    """A venv with aigw-trace (editable, ``--no-deps``) and ``requirements``; returns its Python."""
    venv = root / "venv"
    python = _python_in(venv)
    uv = shutil.which("uv")
    if uv is not None and subprocess.run([uv, "--version"], capture_output=True).returncode == 0:
        steps = [
            [uv, "venv", "-q", "--python", sys.executable, str(venv)],
            [uv, "pip", "install", "-q", "--python", str(python), *requirements],
            [uv, "pip", "install", "-q", "--python", str(python), "--no-deps", "-e", str(ROOT)],
        ]
    else:  # slower, same result
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        steps = [[sys.executable, "-m", "venv", str(venv)], [*pip, *requirements], [*pip, "--no-deps", "-e", str(ROOT)]]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{step}: {done.stderr}"
    return python


@pytest.fixture(scope="session")
def api_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Python of a venv with aigw-trace on the OpenTelemetry API only: no OTel SDK, no LLM SDK."""
    return build_venv(tmp_path_factory.mktemp("api-only"), *(f"{name}=={version(name)}" for name in API_ONLY))


@pytest.fixture(scope="session")
def api_and_openai(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same plus ``openai``: an app whose library installed aigw-trace with the API only."""
    pins = (f"{name}=={version(name)}" for name in (*API_ONLY, "openai"))
    return build_venv(tmp_path_factory.mktemp("api-openai"), *pins)


def run_in(python: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OTEL_", "AIGW_TRACE_"))}
    env.pop("PYTHONPATH", None)
    env["COLUMNS"] = "400"  # pytest cuts its short summary lines to the terminal width
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120)


def project(root: Path, **files: str) -> Path:
    root.mkdir()
    for name, text in files.items():
        (root / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_the_venv_really_has_no_sdk(api_only):
    done = run_in(api_only, "-c", "import importlib.util as u; print([u.find_spec(m) is None for m in "
                  "('opentelemetry.sdk', 'openai', 'anthropic', 'httpx2', 'aigw_trace')])")  # fmt: skip
    assert done.stdout.strip() == "[True, True, True, True, False]", done.stderr


def loud(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))]


def test_import_and_instrument_never_raise(api_only):
    code = "import logging; logging.basicConfig()\nimport aigw_trace\naigw_trace.instrument()\nprint('ok')\n"
    done = run_in(api_only, "-c", code)
    assert (done.returncode, done.stdout) == (0, "ok\n"), done.stderr
    # With no LLM SDK at all there is nothing to instrument: at most one line that says so.
    problems = loud(done.stderr)
    assert len(problems) <= 1, problems
    assert all("openai" in line and "anthropic" in line and "Traceback" not in line for line in problems)


APP_ON_THE_API = """
import logging

import openai
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import aigw_trace
from aigw_trace.testing import LoopbackGateway

logging.basicConfig()
aigw_trace.instrument()
incoming = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                       trace_flags=TraceFlags(TraceFlags.SAMPLED))
with LoopbackGateway() as gateway:
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="test", max_retries=0)
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(incoming)))
    try:
        reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    finally:
        context.detach(token)
    print(reply.choices[0].message.content, gateway.last_request.traceparent)
    print(aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry)
"""


def test_an_openai_app_on_the_api_only_runs_and_passes_the_incoming_context_on(api_and_openai):
    done = run_in(api_and_openai, "-c", APP_ON_THE_API)
    assert done.returncode == 0, done.stderr
    assert loud(done.stderr) == []
    # No SDK, so no spans of its own: the gateway receives the context the app was called with.
    assert done.stdout == "pong 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\nTrue\n"


def test_uninstrument_when_not_instrumented_is_silent(caplog):
    import aigw_trace

    assert not aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry
    with caplog.at_level(logging.DEBUG):
        aigw_trace.uninstrument()
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_an_unrelated_projects_pytest_run_is_green_with_the_plugin_loaded(api_only, tmp_path):
    root = project(
        tmp_path / "unrelated",
        test_math="""
            def test_adds():
                assert 1 + 1 == 2
        """,
        test_uses_gateway="""
            import json
            import urllib.request

            def test_the_loopback_gateway_needs_only_the_api(aigw_gateway):
                body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
                req = urllib.request.Request(
                    aigw_gateway.openai_base_url + "/chat/completions", data=body,
                    headers={"content-type": "application/json"},
                )
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(req, timeout=10) as response:
                    assert json.load(response)["object"] == "chat.completion"
                assert aigw_gateway.last_request.path.endswith("/chat/completions")
        """,
    )
    done = run_in(api_only, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    # aigw_gateway comes from the plugin: its test passing shows the plugin was loaded, not skipped.


def test_aigw_telemetry_fails_with_one_line_naming_the_sdk_extra(api_only, tmp_path):
    root = project(
        tmp_path / "wants_sdk",
        test_telemetry="""
            def test_needs_the_sdk(aigw_telemetry):
                raise AssertionError("not reached")
        """,
    )
    done = run_in(api_only, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rE", cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 error" in done.stdout
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERROR ")]
    assert errors == [
        "ERROR test_telemetry.py::test_needs_the_sdk - Failed: aigw_telemetry needs the OpenTelemetry SDK, which is "
        "not installed: pip install 'aigw-trace[sdk]' (or opentelemetry-sdk)"
    ]
    assert "Traceback" not in done.stdout
    assert "ModuleNotFoundError" not in done.stdout


def test_the_fixture_types_name_the_extra_when_imported(api_only):
    code = (
        "from aigw_trace.testing import LoopbackGateway\n"
        "try:\n"
        "    from aigw_trace.testing import InMemoryTelemetry\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = run_in(api_only, "-c", code)
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout
        == "aigw_trace.testing.InMemoryTelemetry needs the OpenTelemetry SDK: pip install 'aigw-trace[sdk]'\n"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["demo"],
            "aigw-trace demo needs opentelemetry-sdk, openai, anthropic, not installed here: "
            "pip install 'aigw-trace[sdk,openai,anthropic]'",
        ),
        (
            ["doctor", "--base-url", "http://127.0.0.1:9/v1"],
            "aigw-trace doctor needs opentelemetry-sdk, openai, not installed here: "
            "pip install 'aigw-trace[sdk,openai]'",
        ),
        (
            ["doctor", "--provider", "anthropic", "--base-url", "http://127.0.0.1:9"],
            "aigw-trace doctor needs opentelemetry-sdk, anthropic, not installed here: "
            "pip install 'aigw-trace[sdk,anthropic]'",
        ),
    ],
)
def test_commands_exit_2_with_one_line_naming_the_extras(api_only, args, line):
    done = run_in(api_only, "-m", "aigw_trace", *args)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")


def test_a_missing_llm_sdk_alone_names_only_its_extra(monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name, *a))
    assert _cli.main(["doctor", "--provider", "anthropic", "--base-url", "http://127.0.0.1:9"]) == 2
    assert capsys.readouterr().err == (
        "aigw-trace doctor needs anthropic, not installed here: pip install 'aigw-trace[anthropic]'\n"
    )
    assert _cli.main(["demo"]) == 2
    assert capsys.readouterr().err == (
        "aigw-trace demo needs anthropic, not installed here: pip install 'aigw-trace[anthropic]'\n"
    )
