"""Where a call's Python work goes: bytecodes executed per package and per function, and Python calls made.

Callgrind counts CPython's instructions, not which Python function ran them. This traces one warmed call of a
``bench.py`` scenario with ``sys.settrace`` opcode events (deterministic, like the instruction counts) and prints,
for one configuration, the bytecodes executed in each package, the busiest functions of the packages named with
``--functions``, and the number of Python calls.

Run: ``python benchmarks/bytecodes.py "openai embeddings" floor aigw-trace --functions aigw_trace opentelemetry``.
"""

from __future__ import annotations

import argparse
import collections
import sys
from types import FrameType
from typing import Any

import bench


def _where(frame: FrameType) -> str:
    path = frame.f_code.co_filename
    return f"{path.split('site-packages/')[-1].split('src/')[-1]}:{frame.f_code.co_name}"


def count(scenario: str, config: str) -> tuple[collections.Counter[str], int]:
    """Bytecodes per function, and Python calls, of one call made after 20 warm-up calls."""
    h = bench.Harness.create()
    make, make_floor, _, _ = bench.SCENARIOS[scenario]
    fn = make_floor(h) if config == "floor" else make(h)
    if config == "aigw-trace":
        h.instrument()
    for _ in range(20):
        fn()
    bytecodes: collections.Counter[str] = collections.Counter()
    calls = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal calls
        calls += 1
        frame.f_trace_opcodes = True
        where = _where(frame)

        def local(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "opcode":
                bytecodes[where] += 1
            return local

        return local

    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(None)
    h.uninstrument()
    return bytecodes, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", choices=list(bench.SCENARIOS))
    parser.add_argument("configs", nargs="+", choices=["uninstrumented", "floor", "aigw-trace"])
    parser.add_argument("--functions", nargs="*", default=["aigw_trace"], help="packages whose functions to list")
    args = parser.parse_args()
    for config in args.configs:
        bytecodes, calls = count(args.scenario, config)
        packages: collections.Counter[str] = collections.Counter()
        for where, n in bytecodes.items():
            packages[where.split("/")[0] if "/" in where else where.split(":")[0]] += n
        print(f"== {args.scenario}, {config}: {sum(bytecodes.values())} bytecodes, {calls} Python calls")
        for package, n in packages.most_common(8):
            print(f"  {package:<50} {n:>6}")
        for where, n in bytecodes.most_common():
            if any(where.startswith(f) for f in args.functions):
                print(f"    {where:<76} {n:>5}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
