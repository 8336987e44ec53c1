"""Deterministic overhead: CPU instructions per call under valgrind's callgrind, instead of wall time.

Wall-clock medians on a shared 2-core machine swing by tens of percent; instruction counts do not. For each scenario
of ``bench.py`` and each configuration (uninstrumented, floor, aigw-trace, and the SDK's own tracing where it has
some) one process warms up, then makes ``--calls`` calls inside a ``functools.reduce`` that callgrind is told to
count (``--toggle-collect``): start-up, imports and warm-up are never counted, so a few dozen calls give a figure
that repeats run after run.

The stream target is in time (≤ 2 µs per chunk beyond 1.25 times the floor); instructions are turned into time at the
rate this machine runs the uninstrumented call natively, measured in the same run.

Run: ``nox -s bench-instructions`` or ``python benchmarks/instructions.py`` (needs ``valgrind``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench

_CHILD = """
import sys
sys.path.insert(0, {bench_dir!r})
import bench
h = bench.Harness.create()
make, make_floor, stream, make_native = bench.SCENARIOS[{scenario!r}]
fn = {{"floor": make_floor, "sdk native": make_native}}.get({config!r}, make)(h)
if {config!r} == "aigw-trace":
    h.instrument()
for _ in range(50):
    fn()
# A full collection's cost depends on the whole heap and on when it happens to trigger: freezing what the warm-up
# left keeps that out, while the young-generation collections the calls themselves cause stay in.
import gc
gc.collect()
gc.freeze()
# Only what runs inside this reduce() is counted (callgrind --toggle-collect): imports and warm-up stay out.
import functools
functools.reduce(lambda _, __: fn(), range({calls}), None)
"""


def _count(scenario: str, config: str, calls: int) -> float:
    """Instructions per call."""
    code = _CHILD.format(bench_dir=str(Path(__file__).parent), scenario=scenario, config=config, calls=calls)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--collect-atstart=no",
                "--toggle-collect=functools_reduce",
                f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}",
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
    return int(match.group(1)) / calls


def _native_rate(h: bench.Harness) -> float:
    """Instructions per µs: the uninstrumented chat call's count divided by its native median time."""
    fn = bench.scenario_chat(h)
    for _ in range(100):
        fn()
    samples = []
    for _ in range(9):
        t0 = time.perf_counter()
        for _ in range(100):
            fn()
        samples.append((time.perf_counter() - t0) / 100 * 1e6)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--scenarios", nargs="*", default=list(bench.SCENARIOS), help="default: all of bench.py's")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "instructions.json")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="callgrind processes at once")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)")
        return 1
    jobs: dict[tuple[str, str], concurrent.futures.Future[float]] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for name in args.scenarios:
            configs = ["uninstrumented", "floor", "aigw-trace"]
            if bench.SCENARIOS[name][3] is not None:
                configs.append("sdk native")
            for config in configs:
                jobs[(name, config)] = pool.submit(_count, name, config, args.calls)
        rate_key = (next(iter(bench.SCENARIOS)), "uninstrumented")  # the instructions-per-µs reference
        if rate_key not in jobs:
            jobs[rate_key] = pool.submit(_count, *rate_key, args.calls)
        counts = {key: future.result() for key, future in jobs.items()}
    us_per_call = _native_rate(bench.Harness.create())
    rate = counts[(next(iter(bench.SCENARIOS)), "uninstrumented")] / us_per_call if us_per_call else 0.0

    print(f"{'scenario':<32} {'bare':>9} {'floor+':>8} {'aigw+':>8} {'ratio':>6} {'native+':>8}  per-chunk excess")
    results: dict[str, dict[str, float]] = {}
    for name in args.scenarios:
        bare = counts[(name, "uninstrumented")]
        floor = counts[(name, "floor")] - bare
        ours = counts[(name, "aigw-trace")] - bare
        row = {"bare": bare, "floor added": floor, "aigw-trace added": ours, "ratio to floor": ours / floor}
        native = f"{'-':>8}"
        if (name, "sdk native") in counts:
            row["sdk native added"] = counts[(name, "sdk native")] - bare
            native = f"{row['sdk native added'] / 1e3:>7.0f}k"
        chunk = ""
        if bench.SCENARIOS[name][2]:
            excess = (ours - 1.25 * floor) / bench.CHUNKS
            row["excess per chunk"] = excess
            chunk = f"{excess / 1e3:+.1f}k instr ≈ {excess / rate:+.2f} µs" if rate else f"{excess / 1e3:+.1f}k instr"
        results[name] = row
        print(f"{name:<32} {bare / 1e3:>8.0f}k {floor / 1e3:>7.0f}k {ours / 1e3:>7.0f}k {ours / floor:>6.2f} {native}  "
              f"{chunk}")  # fmt: skip
    print(f"(instructions counted over {args.calls} calls per configuration; {rate:.0f} instructions/µs natively)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"calls": args.calls, "instructions_per_us": rate, "scenarios": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
