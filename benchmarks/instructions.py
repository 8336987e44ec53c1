"""Deterministic overhead: CPU instructions per call under valgrind's callgrind, instead of wall time.

Wall-clock medians on a shared 2-core machine swing by tens of percent; instruction counts do not. For each
configuration (uninstrumented, floor, aigw-trace) and scenario one process warms up, then makes ``--calls`` calls
inside a ``functools.reduce`` that callgrind is told to count (``--toggle-collect``): start-up, imports and warm-up
are never counted, so a few dozen calls give a figure that repeats to the instruction.

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
for _ in range(50):
    fn()
# A full collection's cost depends on the whole heap and on when it happens to trigger: freezing what the warm-up
# left keeps that out of the difference, while the young-generation collections the calls themselves cause stay in.
import gc
gc.collect()
gc.freeze()
# Only what runs inside this reduce() is counted (callgrind --toggle-collect): imports and warm-up stay out.
import functools
functools.reduce(lambda _, __: fn(), range({calls}), None)
"""

CONFIGS = ("uninstrumented", "floor", "aigw-trace")


def _count(config: str, stream: bool, calls: int) -> int:
    code = _CHILD.format(bench_dir=str(Path(__file__).parent), stream=stream, config=config, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
            ],
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
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    jobs = {(c, s, args.calls): None for c in CONFIGS for s in (False, True)}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {key: pool.submit(_count, *key) for key in jobs}
        counts = {key: f.result() for key, f in futures.items()}
    print(f"{'scenario':<28} {'bare':>12} {'floor+':>10} {'aigw+':>10} {'ratio':>6}")
    for stream in (False, True):
        per_call = {c: counts[(c, stream, args.calls)] / args.calls for c in CONFIGS}
        floor = per_call["floor"] - per_call["uninstrumented"]
        ours = per_call["aigw-trace"] - per_call["uninstrumented"]
        name = "openai chat stream (50)" if stream else "openai chat"
        print(f"{name:<28} {per_call['uninstrumented'] / 1e3:>10.0f}k {floor / 1e3:>9.0f}k {ours / 1e3:>9.0f}k "
              f"{ours / floor:>6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
