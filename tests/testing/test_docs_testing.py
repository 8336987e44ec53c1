"""Every code example in docs/testing.md runs as written: each block is its own test module with its own imports,
in a fresh pytest run outside this suite's conftest and configuration (so strict pytest-asyncio, as users get it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "testing.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_example_in_testing_md_runs_on_its_own(tmp_path):
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    tests = 0
    for n, block in enumerate(blocks):
        tests += len(re.findall(r"^(?:async )?def test_", block, re.M))
        (tmp_path / f"test_doc_block_{n}.py").write_text(block, encoding="utf-8")
    assert tests >= len(blocks)  # every block is a test, not just a fragment
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "OTEL_", "AIGW_TRACE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-W", "ignore::DeprecationWarning",
         "-o", "asyncio_default_fixture_loop_scope=function", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{tests} passed" in done.stdout, done.stdout
