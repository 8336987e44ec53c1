"""Project tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite, against the newest supported SDKs (loopback only, no network)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session(name="zero-code")
def zero_code(session: nox.Session) -> None:
    """The zero-code test in a fresh environment holding only what docs/zero-code.md installs (plus pytest)."""
    session.install("-e", ".[auto,openai]", "pytest", "pytest-asyncio")
    session.run("pytest", "-q", "tests/test_zero_code.py", *session.posargs)


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
