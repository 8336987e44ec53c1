"""Docs that run: every fenced Python block in ``README.md`` and ``docs/**/*.md`` runs as written, on its own.

Each block runs in this process in a fresh namespace (so it needs its own imports), with the SDKs pointed at a loopback
gateway through their documented environment variables, and aigw-trace uninstrumented again afterwards. A block that
cannot run offline is marked ``<!-- not run: why -->`` on the line before its fence. ``docs/testing.md``'s blocks are
test modules and run as such in tests/testing/test_docs_testing.py. Shell blocks are not run; the commands of this
project they name (nox sessions, ``aigw-trace`` subcommands and flags, install extras, ``AIGW_TRACE_*`` variables)
are checked to exist.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

import aigw_trace
from aigw_trace import _cli
from aigw_trace._options import OPTIONS
from tests.testing import test_docs_testing

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
DELEGATED = {test_docs_testing.DOC.resolve()}
"""Pages whose Python blocks are pytest modules, run by their own test."""

FENCE = re.compile(r"^```\s*([\w+-]*)\s*$")
NOT_RUN = re.compile(r"^<!--\s*not run:(.*?)-->\s*$")
PYTHON = {"python", "py", "python3"}
SHELL = {"sh", "bash", "shell", "console"}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """Line number of the opening fence."""
    lang: str
    source: str
    not_run: str | None
    """The reason given in a ``<!-- not run: ... -->`` marker right before the fence, if any."""

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    found: list[Block] = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        marker = NOT_RUN.match(lines[i - 1]) if i > 0 else None
        source = "\n".join(lines[i + 1 : end]) + "\n"
        found.append(Block(page, i + 1, opening.group(1).lower(), source, marker.group(1).strip() if marker else None))
        i = end + 1
    return found


ALL = [block for page in PAGES for block in blocks(page)]
TO_RUN = [b for b in ALL if b.lang in PYTHON and b.page not in DELEGATED and b.not_run is None]


@pytest.fixture
def sdks_at_the_gateway(aigw_gateway, monkeypatch):
    """The SDKs' own environment variables, as a user would set them, pointing at the loopback gateway."""
    monkeypatch.setenv("OPENAI_BASE_URL", aigw_gateway.openai_base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", aigw_gateway.anthropic_base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-docs")
    for name in ("OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "AIGW_TRACE_INJECT_HOSTS", "AIGW_TRACE_PROPAGATE"):
        monkeypatch.delenv(name, raising=False)
    return aigw_gateway


@pytest.mark.parametrize("block", TO_RUN, ids=[b.id for b in TO_RUN])
def test_python_block_runs_on_its_own(block, sdks_at_the_gateway, caplog):
    code = compile(block.source, block.id, "exec")
    caplog.set_level(logging.WARNING, logger="aigw_trace")
    try:
        exec(code, {"__name__": "__docs__"})
    finally:
        aigw_trace.uninstrument()
    # A block that makes a call reached the gateway; none made aigw-trace warn (a wrong option, a bad value).
    if ".create(" in block.source:
        assert sdks_at_the_gateway.requests
    assert [r.getMessage() for r in caplog.records if r.name.startswith("aigw_trace")] == []


def test_every_python_block_is_run_or_says_why_not():
    python = [b for b in ALL if b.lang in PYTHON]
    not_run = {b.id: b.not_run for b in python if b.not_run is not None}
    assert all(not_run.values()), not_run  # each gives a reason
    assert len(not_run) <= 2, "keep blocks that cannot run rare"
    # Markers sit right before a Python block, never stray (a marker before a shell block would mean nothing).
    markers = [
        (page, n) for page in PAGES for n, line in enumerate(page.read_text().splitlines(), 2) if NOT_RUN.match(line)
    ]
    assert sorted(markers) == sorted((b.page, b.line) for b in python if b.not_run is not None)
    # The delegated page really is run there: every one of its blocks is a test module.
    for page in DELEGATED:
        assert any(b.page == page for b in python)
    # No Python hides in an unlabelled fence where nothing would run it.
    unlabelled = [b.id for b in ALL if b.lang == "" and re.search(r"^(import|from \w+ import|def |with ) ", b.source)]
    assert unlabelled == []
    assert len(TO_RUN) + len(not_run) >= 6  # the blocks were found


# --- shell blocks: what they name of this project exists ---


def _commands() -> list[tuple[str, list[str]]]:
    """(block id, words) of every shell command, continuations joined, comments dropped, split at ``&&``."""
    commands = []
    for block in ALL:
        if block.lang not in SHELL:
            continue
        for line in block.source.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            current: list[str] = []
            for word in [*words, "&&"]:
                if word in ("&&", "||", ";", "|"):
                    if current:
                        commands.append((block.id, current))
                    current = []
                else:
                    current.append(word)
    return commands


COMMANDS = _commands()


def _nox_sessions() -> set[str]:
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    named = re.findall(r"@nox\.session\([^)]*name=\"([\w-]+)\"", text)
    plain = re.findall(r"@nox\.session(?:\(\))?\ndef (\w+)", text)
    return {*named, *plain}


def _extras() -> set[str]:
    return set(importlib.metadata.metadata("aigw-trace").get_all("Provides-Extra") or [])


def _cli_accepts(subcommand: str, flags: list[str]) -> bool:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            _cli.main([subcommand, "--help"])
        except SystemExit as exc:
            if exc.code != 0:
                return False
    return all(flag in out.getvalue() for flag in flags)


def _after_cli(words: list[str]) -> list[str]:
    """The words after ``aigw-trace`` or ``python -m aigw_trace``, if the command runs this project's CLI."""
    for i, word in enumerate(words):
        if word == "aigw-trace":
            return words[i + 1 :]
        if words[i : i + 2] == ["-m", "aigw_trace"]:
            return words[i + 2 :]
    return []


def test_shell_blocks_name_sessions_subcommands_and_extras_that_exist():
    sessions, extras = _nox_sessions(), _extras()
    assert {"tests", "lint", "typecheck"} <= sessions
    checked = 0
    for where, words in COMMANDS:
        for word in words:  # this project's environment variables are options of the table
            name = word.partition("=")[0]
            if name.startswith("AIGW_TRACE_"):
                assert name in {option.env for option in OPTIONS}, (where, name)
                checked += 1
        words = [w for w in words if "=" not in w or w.startswith("-")]  # leading VAR=value assignments
        if words[:3] == ["python3", "-m", "nox"] or words[:1] == ["nox"]:
            named = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-s"]
            assert set(named) <= sessions, (where, named)
            checked += 1
        rest = _after_cli(words)
        if rest:
            flags = [w for w in rest[1:] if w.startswith("--")]
            assert _cli_accepts(rest[0], flags), (where, rest)
            checked += 1
        if "install" in words:
            for spec in words[words.index("install") + 1 :]:
                match = re.fullmatch(r"(?:aigw-trace|\.)\[([\w,-]+)\]", spec)
                if match:
                    assert set(match.group(1).split(",")) <= extras, (where, spec)
                    checked += 1
    assert checked >= 12  # the check found the commands it is about
