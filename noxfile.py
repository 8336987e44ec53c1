"""Project tasks: ``nox -s tests``, ``nox -s lint``, ``nox -s typecheck``, ``nox -s bench``, ``nox -s tests-sdks``,
``nox -s bench-peers``, ``nox -s bench-scale``."""

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


@nox.session(name="bench-peers", python="3.11")
def bench_peers(session: nox.Session) -> None:
    """aigw-trace against the other instrumentations, one uv virtualenv per peer (needs uv and valgrind).

    Arguments after ``--`` go to benchmarks/peers.py: ``--peers openai-v2 anthropic-native``,
    ``--scenarios chat message``, ``--no-instructions``. Prints a table, writes benchmarks/results/peers.json.
    """
    session.install("packaging")
    session.run("python", "benchmarks/peers.py", *session.posargs)


@nox.session(name="bench-scale")
def bench_scale(session: nox.Session) -> None:
    """Throughput with vs without aigw-trace (1,000 async streams on one loop; 32 threads, one client), import and
    instrument() time and RSS. Figures only, nothing asserted; writes benchmarks/results/scale.json."""
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/scale.py", *session.posargs)
