"""Project tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``, ``nox -s reliability``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against the newest supported SDKs (loopback only, no network)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


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
