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

``--parts SCENARIO…`` counts instead, under callgrind with its cache simulation (one process per scenario, one at a
time): each part of the call's stream handling runs inside a C function of its own that nothing else here calls, so
callgrind's inclusive cost of that function is the part's instructions and L1 misses per call:

- ``Call.end`` (``itertools.starmap``), of which the metric records (``operator.methodcaller``);
- the accumulator's ``result()`` (``itertools.filterfalse``); attaching to the stream, the body watcher included
  (``itertools.takewhile``); ``Call.first_chunk`` (``itertools.accumulate``).

``--fold`` counts the per-chunk path alone, warm, under callgrind: the stream observer and the OpenAI accumulator over
``bench.py``'s 50 chunks, ready-made, against the same chunks yielded bare; instructions per chunk.

``--body`` counts the sync body watcher alone, warm, under callgrind: a body read in 50 pieces (a network stream
reads about one event at a time) through the watcher against the same body bare; instructions per read.

``--premium`` counts the premium itself under callgrind (what a configuration adds to the stream, less what it adds
to the plain call) for aigw-trace and for ``bench.stream_floor_of`` (the least an instrumentation that records a
stream as the conventions ask, time to first chunk included, can add), all six configurations interleaved in one
process (see :func:`premiums`).

Run: ``python benchmarks/stream_anatomy.py --blocks 30`` (wall and CPU time) or ``python benchmarks/stream_anatomy.py
--parts "openai chat stream (50 chunks)" "openai chat"`` (instructions; needs ``valgrind``), with the tests venv's
python.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
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
        added = [
            tuple(m - b for m, b in zip(ours, base, strict=True))
            for ours, base in zip(samples[config], bare, strict=True)
        ]
        out[config] = {
            "wall_us": statistics.median(a[0] for a in added) * 1e6,
            "cpu_us": statistics.median(a[1] for a in added) * 1e6,
        }
    out["bare"] = {k: statistics.median(s[0] for s in samples[k]) * 1e6 for k in ("bare plain", "bare stream")}
    return out


_PARTS_CHILD = """
import functools, gc, itertools, operator, sys
sys.path.insert(0, {bench_dir!r})
import bench
from aigw_trace import _call, _metrics, _streams
from aigw_trace._providers.anthropic import _messages
from aigw_trace._providers.openai import _chat

def starmap(f):
    return lambda *a, **k: next(itertools.starmap(functools.partial(f, *a, **k), ((),)))
def accumulate(f):
    return lambda *a, **k: list(itertools.accumulate((None, None), lambda x, y: f(*a, **k)))[-1]
def through(c_function):  # f runs once as the predicate of c_function over one item; its result is kept
    def wrap(f):
        def run(*a, **k):
            out = []
            list(c_function(lambda _: out.append(f(*a, **k)), (None,)))
            return out[0]
        return run
    return wrap
takewhile, filterfalse = through(itertools.takewhile), through(itertools.filterfalse)
def methodcaller(f):
    return lambda *a, **k: operator.methodcaller("__call__")(functools.partial(f, *a, **k))

h = bench.Harness.create()
fn = bench.SCENARIOS[{scenario!r}][0](h)
h.instrument()
_call.Call.end = starmap(_call.Call.end)
_call.Call.first_chunk = accumulate(_call.Call.first_chunk)
_streams._attach = takewhile(_streams._attach)
for cls in (_chat.ChatStream, _messages.MessageStreamSummary):
    cls.result = filterfalse(cls.result)
for cls in (_metrics.ReleasedMetrics, _metrics.LatestMetrics):
    cls.record = methodcaller(cls.record)
for _ in range(10):
    fn()
gc.collect()
gc.freeze()
functools.reduce(lambda _, __: fn(), range({calls}), None)
"""

_FOLD_CHILD = """
import functools, json, sys
sys.path.insert(0, {bench_dir!r})
import bench
from openai.types.chat import ChatCompletionChunk
from aigw_trace import _streams
from aigw_trace._providers.openai._chat import ChatStream

lines = [line for line in bench.CHAT_STREAM_BODY.decode().split("\\n\\n") if line.startswith("data: {{")]
chunks = [ChatCompletionChunk.model_validate(json.loads(line[6:])) for line in lines]

class Call:  # what the observer asks of a call
    def first_chunk(self, item):
        self.acc = ChatStream(("id", "model", "service_tier", "system_fingerprint"))
        self.acc.add(item)
        return self.acc.add
    def end(self, *args, **kwargs):
        pass

def items(stream):
    yield from chunks

def run():
    if {bare!r}:
        for _ in items(None):
            pass
    else:
        for _ in _streams._observe_sync(items, None, Call()):
            pass

for _ in range(5):
    run()
functools.reduce(lambda _, __: run(), range(100), None)
"""


def fold_per_chunk() -> float:
    """Instructions per chunk the observer and the OpenAI fold add, warm (see the module's docstring)."""
    bare, observed = (_reduced(_FOLD_CHILD.format(bench_dir=str(Path(__file__).parent), bare=b)) for b in (True, False))
    return (observed - bare) / bench.CHUNKS


def _reduced(code: str) -> float:
    """Instructions per run of the 100 in ``code``'s ``functools.reduce``, counted alone under callgrind."""
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=functools_reduce",
         "--callgrind-out-file=/dev/null", sys.executable, "-c", code],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
    )  # fmt: skip
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(proc.stderr[-2000:])
    return int(match.group(1)) / 100


_BODY_CHILD = """
import functools, sys
import httpx2
from aigw_trace import _http_body

PIECES = [b"data: " + b"x" * 300 + b"\\n\\n"] * {reads}

class Inner(httpx2.SyncByteStream):  # a network body: one read per event
    def __iter__(self):
        yield from PIECES

class Call:  # what the watcher asks of a call
    wants_body = ended = reading = False
    def end(self, *args, **kwargs):
        pass

body_type = _http_body._library_of(httpx2.Response).sync_body
call = Call()

def run():
    if {bare!r}:
        for _ in Inner():
            pass
    else:
        body = body_type(Inner(), call)
        for _ in body:
            pass
        body.close()

for _ in range(5):
    run()
functools.reduce(lambda _, __: run(), range(100), None)
"""


def body_per_read(reads: int = 50) -> float:
    """Instructions per read the sync body watcher adds to a body read in ``reads`` pieces (its set-up and close
    included, spread over the reads), warm, under callgrind."""
    bare, watched = (_reduced(_BODY_CHILD.format(reads=reads, bare=b)) for b in (True, False))
    return (watched - bare) / reads


def _inclusive(code: str, cache_sim: bool) -> str:
    """``callgrind_annotate``'s inclusive costs per function of what runs inside ``code``'s ``functools.reduce``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        subprocess.run(
            ["valgrind", "--tool=callgrind", f"--cache-sim={'yes' if cache_sim else 'no'}", "--collect-atstart=no",
             "--toggle-collect=functools_reduce", f"--callgrind-out-file={out}", sys.executable, "-c", code],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        return subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip


MARKERS = """
import itertools, operator

def starmap(f):
    next(itertools.starmap(f, ((),)))
def accumulate(f):
    list(itertools.accumulate((None, None), lambda x, y: f()))
def takewhile(f):
    list(itertools.takewhile(lambda _: f() and False, (None,)))
def dropwhile(f):
    list(itertools.dropwhile(lambda _: f() and False, (None,)))
def filterfalse(f):
    list(itertools.filterfalse(lambda _: f() and False, (None,)))
def methodcaller(f):
    operator.methodcaller("__call__")(f)
"""
"""Child-process code: six functions that each run ``f`` once inside a C function of their own (``starmap_next``,
``accumulate_next``, ``takewhile_next``, ``dropwhile_next``, ``filterfalse_next``, ``methodcaller_call``), so that
callgrind's inclusive cost of that C function is what ``f`` cost, for several configurations in one process."""

_PREMIUM_CHILD = """
import functools, gc, sys
sys.path.insert(0, {bench_dir!r})
import bench
{markers}

h = bench.Harness.create()
plain, stream = {pair!r}
bare = {{"bare plain": (bench.SCENARIOS[plain][0](h), starmap),
         "bare stream": (bench.SCENARIOS[stream][0](h), takewhile),
         "floor plain": (bench.SCENARIOS[plain][1](h), dropwhile),
         "stream floor": (bench.stream_floor_of(h, {provider!r}), filterfalse)}}
ours = {{"aigw-trace plain": (bench.SCENARIOS[plain][0](h), accumulate),
         "aigw-trace stream": (bench.SCENARIOS[stream][0](h), methodcaller)}}

def measured(configs, turn):
    for fn, _ in configs.values():  # one unmeasured call each after the toggle: nothing cold is counted
        fn()
    order = list(configs.values())
    for fn, marker in order[turn % len(order):] + order[: turn % len(order)]:
        marker(fn)

def rounds(_, __):
    for turn in range({runs}):
        h.uninstrument()
        measured(bare, turn)
        h.instrument()
        measured(ours, turn)

for configs, toggle in ((bare, h.uninstrument), (ours, h.instrument)):
    toggle()
    for _ in range(10):
        for fn, _ in configs.values():
            fn()
gc.collect()
gc.freeze()
functools.reduce(rounds, range(1), None)
"""

PREMIUM_MARKERS = {
    "starmap_next": "bare plain",
    "takewhile_next": "bare stream",
    "dropwhile_next": "floor plain",
    "filterfalse_next": "stream floor",
    "accumulate_next": "aigw-trace plain",
    "methodcaller_call": "aigw-trace stream",
}
"""The C function each configuration's measured calls run inside (nothing else in these calls runs them): its
inclusive cost is that configuration's, though all run interleaved in one process."""


def premiums(provider: str, runs: int = 20) -> dict[str, float]:
    """What the stream floor and aigw-trace add to the stream beyond what they add to the plain call, in instructions
    per call, all six configurations counted in one callgrind process, interleaved call by call (order rotated,
    instrumentation toggled each round, one unmeasured call after each toggle). Counted in separate processes, a
    stream's total moves with the allocator's and the collector's state (aigw-trace's OpenAI stream counted 46,845k
    and 46,932k in two identical runs with the collector off), by more than half the premium; interleaved, every
    configuration meets the same states."""
    code = _PREMIUM_CHILD.format(bench_dir=str(Path(__file__).parent), pair=PAIRS[provider], provider=provider,
                                 runs=runs, markers=MARKERS)  # fmt: skip
    counts: dict[str, float] = {}
    for line in _inclusive(code, cache_sim=False).splitlines():
        match = re.match(r"\s*([\d,]+) .*?:(\w+) \[", line)
        if match and match.group(2) in PREMIUM_MARKERS and PREMIUM_MARKERS[match.group(2)] not in counts:
            counts[PREMIUM_MARKERS[match.group(2)]] = int(match.group(1).replace(",", "")) / runs
    plain_floor = counts["floor plain"] - counts["bare plain"]
    plain_ours = counts["aigw-trace plain"] - counts["bare plain"]
    return {
        **counts,
        "stream floor premium": counts["stream floor"] - counts["bare stream"] - plain_floor,
        "aigw-trace premium": counts["aigw-trace stream"] - counts["bare stream"] - plain_ours,
    }


PARTS = {
    "starmap_next": "Call.end",
    "methodcaller_call": "  of which metric records",
    "filterfalse_next": "accumulator result()",
    "takewhile_next": "attach (body watcher incl.)",
    "accumulate_next": "Call.first_chunk",
}


def parts(scenario: str, calls: int) -> dict[str, dict[str, float]]:
    """Instructions and L1 misses per call of each part (see the module's docstring), and of the whole call."""
    code = _PARTS_CHILD.format(bench_dir=str(Path(__file__).parent), scenario=scenario, calls=calls)
    annotated = _inclusive(code, cache_sim=True)
    events = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw")
    found: dict[str, dict[str, float]] = {}
    for line in annotated.splitlines():
        numbers = re.findall(r"(?:^|\s)([\d,]+|\.)(?= \(|\s)", line)
        name = line.rsplit(":", 1)[-1].split(" [")[0].strip() if ":" in line else ""
        label = "call" if "functools_reduce" in name else PARTS.get(name)
        if label is None or len(numbers) < len(events) or label in found:
            continue
        values = [int(n.replace(",", "")) if n != "." else 0 for n in numbers[: len(events)]]
        found[label] = {e: v / calls for e, v in zip(events, values, strict=True)}
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--calls", type=int, default=30, help="calls per block")
    parser.add_argument("--providers", nargs="*", default=list(PAIRS))
    parser.add_argument("--ablations", nargs="*", default=list(ABLATIONS))
    parser.add_argument("--parts", nargs="*", metavar="SCENARIO", help="count each part under callgrind instead")
    parser.add_argument("--parts-calls", type=int, default=10, help="calls counted per scenario with --parts")
    parser.add_argument("--fold", action="store_true", help="count the per-chunk path alone under callgrind")
    parser.add_argument("--body", action="store_true", help="count the sync body watcher per read under callgrind")
    parser.add_argument("--premium", action="store_true", help="count the premium, paired in one process")
    parser.add_argument("--premium-runs", type=int, default=20, help="measured calls per configuration")
    args = parser.parse_args()
    if args.premium:
        for provider in args.providers:
            print(provider)
            for label, value in premiums(provider, args.premium_runs).items():
                print(f"  {label:<22} {value / 1e3:>9.1f}k instructions", flush=True)
        return 0
    if args.fold:
        print(f"observer and OpenAI fold: {fold_per_chunk():.0f} instructions per chunk (warm)")
        return 0
    if args.body:
        print(f"sync body watcher: {body_per_read():.0f} instructions per read of a 50-read body (warm)")
        return 0
    if args.parts:
        for scenario in args.parts:
            print(scenario)
            for label, row in parts(scenario, args.parts_calls).items():
                misses = f"instr {row['I1mr'] / 1e3:.2f}k, data {row['D1mr'] / 1e3:.2f}k + {row['D1mw'] / 1e3:.2f}k"
                print(f"  {label:<30} {row['Ir'] / 1e3:>9.1f}k instr  L1 misses: {misses}", flush=True)
        return 0
    h = bench.Harness.create()
    print(f"load average {os.getloadavg()[0]:.1f} at start")
    for provider in args.providers:
        if provider == "anthropic" and h.anthropic is None:
            continue
        out = measure(h, provider, args.blocks, args.calls, args.ablations)
        plain = out["plain"]
        bare = out["bare"]
        print(f"{provider}: bare plain {bare['bare plain']:.0f} µs, bare stream {bare['bare stream']:.0f} µs")
        print(f"  {'config':<16} {'added wall':>11} {'added CPU':>10} {'premium wall':>13} {'premium CPU':>12}")
        for config, row in out.items():
            if config == "bare":
                continue
            premium = (row["wall_us"] - plain["wall_us"], row["cpu_us"] - plain["cpu_us"])
            print(f"  {config:<16} {row['wall_us']:>9.1f}µs {row['cpu_us']:>8.1f}µs "
                  f"{premium[0]:>11.1f}µs {premium[1]:>10.1f}µs")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
