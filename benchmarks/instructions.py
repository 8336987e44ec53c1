"""Deterministic overhead: CPU instructions per call under valgrind's callgrind, instead of wall time.

Wall-clock medians on a shared 2-core machine swing by tens of percent; instruction counts do not. For each
configuration (uninstrumented, floor, aigw-trace) and scenario it runs two processes, one making ``--calls`` more
calls than the other, and divides the difference: start-up and imports cancel out.

Run: ``nox -s bench-instructions`` or ``python benchmarks/instructions.py`` (needs ``valgrind``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import sys
sys.path.insert(0, {bench_dir!r})
import bench
h = bench.Harness.create()
stream = {stream!r}
fn = bench.scenario_chat_stream(h) if stream else bench.scenario_chat(h)
if {config!r} == "floor":
    fn = bench.floor_of(h, stream)
elif {config!r} == "aigw-trace":
    h.instrument()
for _ in range(50 + {calls}):
    fn()
"""

CONFIGS = ("uninstrumented", "floor", "aigw-trace")


def _count(config: str, stream: bool, calls: int) -> int:
    code = _CHILD.format(bench_dir=str(Path(__file__).parent), stream=stream, config=config, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(proc.stderr[-2000:])
    return int(match.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    jobs = {(c, s, n): None for c in CONFIGS for s in (False, True) for n in (0, args.calls)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(_count, *key) for key in jobs}
        counts = {key: f.result() for key, f in futures.items()}
    print(f"{'scenario':<28} {'bare':>12} {'floor+':>10} {'aigw+':>10} {'ratio':>6}")
    for stream in (False, True):
        per_call = {c: (counts[(c, stream, args.calls)] - counts[(c, stream, 0)]) / args.calls for c in CONFIGS}
        floor = per_call["floor"] - per_call["uninstrumented"]
        ours = per_call["aigw-trace"] - per_call["uninstrumented"]
        name = "openai chat stream (50)" if stream else "openai chat"
        print(f"{name:<28} {per_call['uninstrumented'] / 1e3:>10.0f}k {floor / 1e3:>9.0f}k {ours / 1e3:>9.0f}k "
              f"{ours / floor:>6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
