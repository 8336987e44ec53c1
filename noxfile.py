"""Project tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``, ``nox -s tests-sdks``,
``nox -s reliability``, ``nox -s e2e-litellm``, ``nox -s frameworks``, ``nox -s zero-code``, ``nox -s bench-peers``,
``nox -s bench-scale``, ``nox -s bench-startup``."""

from __future__ import annotations

import sys

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite against the newest supported SDKs (loopback only), then the version matrix's two sets that
    prove every other SDK major (``MAJORS``) on the same Python. Arguments after ``--`` go to pytest and run this
    session alone."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)
    if not session.posargs:
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        if python in PYTHONS:
            for sdks in MAJORS:
                session.notify(f"tests-sdks-{python}(sdks={sdks!r})")
        else:
            session.log(f"the SDK version matrix runs on Pythons {', '.join(PYTHONS)}, not {python}: skipped")


MAJORS = ("oldest", "openai2-anthropic1")
"""openai 1.x with anthropic 0.x (the oldest supported releases, httpx only) and openai 2.x with anthropic 1.x
(httpx and httpx2 side by side): with the newest SDKs of the main suite, every supported major."""


PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

# Named SDK sets for ``tests-sdks``: the oldest supported releases, the last release of each major (openai 2.x with
# anthropic 1.x puts httpx and httpx2 side by side), and the newest in the supported range at install time.
# openai < 1.55.3 and anthropic 0.30 pass ``proxies=`` to httpx, which httpx 0.28 removed: those sets pin httpx.
SDK_SETS = {
    "oldest": ["openai==1.26.0", "anthropic==0.40.0", "httpx<0.28"],
    "openai1-anthropic0": ["openai==1.109.1", "anthropic==0.125.0"],
    "openai2-anthropic1": ["openai==2.54.0", "anthropic==1.17.0"],
    "newest": ["openai>=3,<4", "anthropic>=2,<3"],
}

# What applies to every SDK release: the matrix (imports only the HTTP library each SDK uses) and the demo/doctor
# runs against the loopback gateway. The rest of tests/ is written against httpx2-based releases (tests/conftest.py
# imports httpx2), so ``--confcutdir`` keeps that conftest out.
SDK_TESTS = ["tests/sdks", "tests/test_demo.py", "tests/test_doctor.py"]


@nox.session(name="tests-sdks", python=PYTHONS, venv_backend="uv|virtualenv")
@nox.parametrize("sdks", list(SDK_SETS))
def tests_sdks(session: nox.Session, sdks: str) -> None:
    """The parts of the suite that apply to every SDK release, against one named set of openai/anthropic releases.

    ``nox -s tests-sdks`` runs every set on every Python found; ``nox -s tests-sdks -p 3.10`` one Python;
    ``nox -s "tests-sdks-3.11(sdks='oldest')"`` one set. Arguments after ``--`` are added to pytest's (``-k``, ``-x``).
    Pythons not on PATH: with pyenv, ``export PYENV_VERSION=3.11.7:3.10.13:3.12.1:3.13.0`` first.
    """
    session.install("-e", ".[test-tools]", *SDK_SETS[sdks])
    before = session.run("python", "-c", _VERSIONS, silent=True)
    # The extras span the supported ranges: installing them must not move the SDKs this set pinned.
    session.install("-e", ".[openai,anthropic]")
    after = session.run("python", "-c", _VERSIONS, silent=True)
    if before != after:
        session.error(f"installing aigw-trace[openai,anthropic] moved the SDKs: {before!r} -> {after!r}")
    print(after)
    session.run("pytest", "-q", "--confcutdir=tests/sdks", *SDK_TESTS, *session.posargs)


# Prints what the set resolved to (python, openai, anthropic, httpx, httpx2; "-" when absent).
_VERSIONS = (
    "import importlib.metadata as m, importlib.util as u, sys; print('python', sys.version.split()[0], *("
    "f'{n} ' + (m.version(n) if u.find_spec(n) else '-') for n in ('openai', 'anthropic', 'httpx', 'httpx2')))"
)


@nox.session(name="zero-code")
def zero_code(session: nox.Session) -> None:
    """The zero-code test in a fresh environment holding only what docs/zero-code.md installs (plus pytest)."""
    session.install("-e", ".[auto,openai]", "pytest", "pytest-asyncio")
    session.run("pytest", "-q", "tests/test_zero_code.py", *session.posargs)


@nox.session
def reliability(session: nox.Session) -> None:
    """The reliability suite in full (docs/reliability.md): the whole stream lifecycle matrix, >= 1,000 generated
    bodies per endpoint family, the secrets property in every configuration, and the soaks. A few minutes."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "tests/reliability", *session.posargs,
                env={"AIGW_RELIABILITY": "1"})  # fmt: skip


@nox.session(name="e2e-litellm")
def e2e_litellm(session: nox.Session) -> None:
    """Opt-in, not in CI: a real LiteLLM proxy on 127.0.0.1 in front of a loopback provider, its spans received over
    OTLP; asserts one joined trace per call (docs/gateways/litellm.md). Installs litellm[proxy] (~130 packages) here.
    """
    session.install("uv")
    overrides = session.create_tmp() + "/overrides.txt"
    with open(overrides, "w") as f:
        f.write("certifi==2026.10.18\n")  # litellm 1.108.x declares a certifi newer than any published one
    session.run("uv", "pip", "install", "--python", session.virtualenv.location + "/bin/python",
                "--override", overrides, "litellm[proxy]==1.108.7", "-e", ".[test]")  # fmt: skip
    session.run("pytest", "-q", "-p", "no:cacheprovider", "tests/reliability/e2e_litellm.py", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test]", "mypy")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Overhead against the uninstrumented SDK and the floor; prints a table, writes benchmarks/results/bench.json."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/bench.py", *session.posargs)


@nox.session(name="bench-instructions")
def bench_instructions(session: nox.Session) -> None:
    """The same comparison in CPU instructions under valgrind (deterministic; needs valgrind, takes minutes)."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/instructions.py", *session.posargs)


# Framework pin sets for ``frameworks``: each installs one framework (or one family) with its own SDK pins, resolved
# by the framework's own requirements; the SDK lines record what that resolved to when the set was last updated.
FRAMEWORK_SETS = {
    "openai-agents": ["openai-agents==0.24.0", "openai==3.63.0"],
    "langchain": ["langchain-openai==1.8.1", "langchain-anthropic==1.7.10", "openai==3.63.0", "anthropic==2.17.0"],
    "pydantic-ai": ["pydantic-ai-slim[openai,anthropic]==2.78.0", "openai==3.63.0", "anthropic==2.17.0"],
    "litellm": ["litellm==1.110.2", "openai==3.63.0"],
    "llamaindex": ["llama-index-llms-openai==0.8.3", "openai==2.54.0"],  # pins openai<3: httpx, not httpx2
    "instructor": ["instructor[anthropic]==1.17.0", "anthropic==0.93.0", "openai==3.3.0"],  # anthropic 0.x
}


@nox.session(python="3.11", venv_backend="uv|virtualenv")
@nox.parametrize("framework", list(FRAMEWORK_SETS))
def frameworks(session: nox.Session, framework: str) -> None:
    """Frameworks over the SDKs (openai-agents, LangChain, pydantic-ai, litellm, LlamaIndex, instructor) through the
    loopback gateway, with and without aigw-trace. One venv per pin set; offline once installed. Not part of
    ``tests``: ``nox -s frameworks`` runs every set, ``nox -s "frameworks(framework='litellm')"`` one. See
    docs/frameworks.md.
    """
    session.install("-e", ".[test-tools]", *FRAMEWORK_SETS[framework])
    session.run("python", "-c", _VERSIONS, silent=False)
    session.run(
        "pytest",
        "-q",
        "-rxXf",
        "--confcutdir=tests/frameworks",
        f"tests/frameworks/fw_{framework.replace('-', '_')}.py",
        *session.posargs,
        env=_OFFLINE,
    )


# Nothing in a framework run may reach past 127.0.0.1: telemetry, cost maps and tracing exporters stay local.
_OFFLINE = {
    "AIGW_FRAMEWORKS_OFFLINE": "1",
    "OPENAI_AGENTS_DISABLE_TRACING": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LOGFIRE_SEND_TO_LOGFIRE": "false",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "OTEL_SDK_DISABLED": "false",
    "OTEL_TRACES_EXPORTER": "none",
    "OTEL_METRICS_EXPORTER": "none",
    "OTEL_LOGS_EXPORTER": "none",
    "NO_PROXY": "127.0.0.1,localhost",
}


@nox.session(name="bench-peers", python="3.11")
def bench_peers(session: nox.Session) -> None:
    """aigw-trace against the other instrumentations, one uv virtualenv per peer (needs uv and valgrind).

    Arguments after ``--`` go to benchmarks/peers.py: ``--peers openai-v2 anthropic-native``,
    ``--scenarios chat message``, ``--no-instructions``, ``--no-wall`` (on a busy machine wall time measures the
    machine). Prints a table, writes benchmarks/results/peers.json (also before the callgrind phase).
    """
    session.install("packaging")
    session.run("python", "benchmarks/peers.py", *session.posargs)


@nox.session(name="bench-scale")
def bench_scale(session: nox.Session) -> None:
    """Throughput with vs without aigw-trace (1,000 async streams on one loop; 32 threads, one client). Figures only,
    nothing asserted; writes benchmarks/results/scale.json. Start-up cost: ``nox -s bench-startup``."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/scale.py", *session.posargs)


@nox.session(name="bench-startup")
def bench_startup(session: nox.Session) -> None:
    """What ``import aigw_trace`` and ``instrument()`` cost at start-up, each in fresh interpreters (cold, after
    ``openai``, in an app with the SDKs and the OpenTelemetry SDK loaded), with the ``-X importtime`` breakdown.
    Figures only; ``-- --compare ../other-checkout/src`` measures another checkout alternately, for before/after."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/startup.py", *session.posargs)
