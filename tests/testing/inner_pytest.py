"""Run a user's tiny test project in a nested, in-process pytest session (as pytester does, without the plugin):
no new interpreter, so no second import of the SDKs. The project gets no conftest or configuration of this suite."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Outcome:
    outcome: str
    """``passed``, ``failed``, ``skipped``; a setup failure is ``error``."""
    report: str
    """What pytest prints for it in its FAILURES / ERRORS section."""


class _Collect:
    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        name = report.nodeid.rpartition("::")[2]
        if report.when == "call" or report.outcome != "passed":
            outcome = "error" if report.when == "setup" and report.failed else report.outcome
            self.outcomes.setdefault(name, Outcome(outcome, report.longreprtext))


def run_project(root: Path, files: dict[str, str], *args: str) -> dict[str, Outcome]:
    """Write ``files`` (module name → source) under ``root`` and run pytest on them: outcome by test name."""
    root.mkdir(exist_ok=True)
    for name, source in files.items():
        (root / f"{name}.py").write_text(source, encoding="utf-8")
    collect = _Collect()
    args = ("-p", "no:cacheprovider", "-q", "--import-mode=importlib", "--rootdir", str(root), "-c", "/dev/null",
            "-o", "asyncio_default_fixture_loop_scope=function", *args)  # fmt: skip
    code = pytest.main([*args, str(root)], plugins=[collect])
    assert code in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), f"inner pytest run: {code!r}"
    return collect.outcomes
