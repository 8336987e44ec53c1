"""Project tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``, ``nox -s tests-sdks``,
``nox -s reliability``, ``nox -s e2e-litellm``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against the newest supported SDKs (loopback only, no network)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


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
    session.run("python", "-c", _VERSIONS, silent=False)
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
