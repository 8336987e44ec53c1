"""Where a stream's premium over a plain call goes: the same 50-chunk streams of ``bench.py`` with one part of
aigw-trace's stream handling switched off at a time, against the plain call, in paired blocks.

Configurations (each a difference from the uninstrumented SDK in the same round, as ``bench.py`` computes it):

- ``plain``: the plain call of the same provider (what the premium is measured from);
- ``stream``: the stream, fully instrumented;
- ``no fold``: no accumulator call per chunk (the first chunk is still folded);
- ``no ttfc record``: the time-to-first-chunk histogram record left out at the end;
- ``no observer``: no generator in front of the SDK's (the call ends through the body watcher).

The ablated configurations record less, so they are for reading costs only. Reports wall time and the process's
CPU time per call (medians over blocks of per-block medians); pin it (``taskset -c 1``) and quote the load average.

Run: ``python benchmarks/stream_anatomy.py --blocks 30`` (after ``nox -s tests`` made the venv).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

from aigw_trace import _call, _metrics, _streams


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    original = obj.__dict__[name]
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, original)


def _no_fold() -> contextlib.AbstractContextManager[None]:
    first_chunk = _call.Call.first_chunk

    def only_first(self: Any, chunk: Any) -> Any:
        first_chunk(self, chunk)
        return None

    return _patched(_call.Call, "first_chunk", only_first)


def _no_ttfc() -> contextlib.AbstractContextManager[None]:
    stack = contextlib.ExitStack()
    for cls in (_metrics.ReleasedMetrics, _metrics.LatestMetrics):
        record = cls.record

        def without_ttfc(self: Any, metrics: Any, attrs: Any, duration: float, ttfc: Any, etype: Any,
                         _record: Any = record) -> None:  # fmt: skip
            _record(self, metrics, attrs, duration, None, etype)

        stack.enter_context(_patched(cls, "record", without_ttfc))
    return stack


def _no_observer() -> contextlib.AbstractContextManager[None]:
    return _patched(_streams, "_attach", lambda stream: None)


ABLATIONS: dict[str, Callable[[], contextlib.AbstractContextManager[None]] | None] = {
    "stream": None,
    "no fold": _no_fold,
    "no ttfc record": _no_ttfc,
    "no observer": _no_observer,
}

PAIRS = {
    "openai": ("openai chat", f"openai chat stream ({bench.CHUNKS} chunks)"),
    "anthropic": ("anthropic message", f"anthropic stream ({bench.CHUNKS} events)"),
}


def _block(fn: Callable[[], Any], calls: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(calls):
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.thread_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def measure(h: bench.Harness, provider: str, blocks: int, calls: int, ablations: list[str]) -> dict[str, Any]:
    plain_name, stream_name = PAIRS[provider]
    plain, stream = bench.SCENARIOS[plain_name][0](h), bench.SCENARIOS[stream_name][0](h)
    # config -> (call, instrumented, ablation)
    configs: dict[str, tuple[Callable[[], Any], bool, Any]] = {
        "bare plain": (plain, False, None),
        "bare stream": (stream, False, None),
        "plain": (plain, True, None),
    }
    for name in ablations:
        configs[name] = (stream, True, ABLATIONS[name])
    samples: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
    order = list(configs)
    for block in range(blocks + 1):
        rotated = order[block % len(order) :] + order[: block % len(order)]
        for config in rotated:
            fn, instrumented, ablation = configs[config]
            (h.instrument if instrumented else h.uninstrument)()
            with ablation() if ablation is not None else contextlib.nullcontext():
                gc.collect()
                result = _block(fn, calls if block else max(5, calls // 5))
            if block:  # the first round warms up
                samples[config].append(result)
    h.uninstrument()
    out: dict[str, Any] = {}
    for config in configs:
        if config.startswith("bare"):
            continue
        bare = samples["bare plain" if config == "plain" else "bare stream"]
        added = [tuple(m - b for m, b in zip(ours, base, strict=True)) for ours, base in zip(samples[config], bare, strict=True)]
        out[config] = {
            "wall_us": statistics.median(a[0] for a in added) * 1e6,
            "cpu_us": statistics.median(a[1] for a in added) * 1e6,
        }
    out["bare"] = {k: statistics.median(s[0] for s in samples[k]) * 1e6 for k in ("bare plain", "bare stream")}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--calls", type=int, default=30, help="calls per block")
    parser.add_argument("--providers", nargs="*", default=list(PAIRS))
    parser.add_argument("--ablations", nargs="*", default=list(ABLATIONS))
    args = parser.parse_args()
    h = bench.Harness.create()
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    for provider in args.providers:
        if provider == "anthropic" and h.anthropic is None:
            continue
        out = measure(h, provider, args.blocks, args.calls, args.ablations)
        plain = out["plain"]
        print(f"{provider}: bare plain {out['bare']['bare plain']:.0f} µs, bare stream {out['bare']['bare stream']:.0f} µs")
        print(f"  {'config':<16} {'added wall':>11} {'added CPU':>10} {'premium wall':>13} {'premium CPU':>12}")
        for config, row in out.items():
            if config == "bare":
                continue
            print(f"  {config:<16} {row['wall_us']:>9.1f}µs {row['cpu_us']:>8.1f}µs "
                  f"{row['wall_us'] - plain['wall_us']:>11.1f}µs {row['cpu_us'] - plain['cpu_us']:>10.1f}µs")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
