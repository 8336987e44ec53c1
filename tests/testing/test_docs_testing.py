"""Every code example in docs/testing.md runs as written: each block is its own test module with its own imports, in
a pytest session without this suite's conftest and configuration (so pytest-asyncio is strict, as users get it)."""

from __future__ import annotations

import re
from pathlib import Path

from .inner_pytest import run_project

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
TEST = re.compile(r"^(?:async )?def (test_\w+)", re.M)


def test_every_example_in_testing_md_runs_on_its_own(tmp_path):
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    tests = [name for block in blocks for name in TEST.findall(block)]
    assert all(TEST.search(block) for block in blocks)  # every block is a test, not a fragment
    outcomes = run_project(
        tmp_path,
        {f"test_doc_block_{n}": block for n, block in enumerate(blocks)},
    )
    assert {name: o.outcome for name, o in outcomes.items()} == dict.fromkeys(tests, "passed"), {
        name: o.report for name, o in outcomes.items() if o.outcome != "passed"
    }
