"""What importing aigw-trace and calling ``instrument()`` cost at start-up, each in a fresh interpreter.

Scenarios (each run ``--runs`` times in a new process, median reported, wall time by ``perf_counter`` around the
statement inside the process, so the interpreter's own start-up is not counted):

- **cold**: ``import aigw_trace`` with nothing imported before (what a script that only imports it pays);
- **after openai**: ``import aigw_trace`` once ``openai`` is imported (what an application pays: the SDK and what it
  shares with aigw-trace, ``typing``, ``dataclasses``, ``asyncio``…, are already loaded);
- **app**: ``import aigw_trace`` then ``instrument()`` once ``openai``, ``anthropic`` and the OpenTelemetry SDK are
  imported and providers exist (the usual application start-up), with the RSS each adds; then the first OpenAI
  chat call (over an in-process mock transport) and a second one: what is put off from ``instrument()`` to the first
  call (an endpoint's tables, the injection module) shows as the first call's excess over the second.

Then the ``-X importtime`` breakdown of the cold and after-openai imports: the largest contributors by their own
(self) time, and the packages they belong to. ``--compare DIR`` runs every measurement alternately against another
checkout's ``src`` directory (put first on ``sys.path``), so a before/after pair shares the machine's state.
``--instructions`` also counts the instructions ``instrument()`` runs under valgrind's callgrind, which, unlike
time, a busy machine does not change.

Run: ``nox -s bench-startup`` (or ``python benchmarks/startup.py --help``). Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_RSS = "int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0])"
_SCENARIOS = {
    "cold": """
import time
t0, c0 = time.perf_counter(), time.process_time()
import aigw_trace
result = {"import_ms": (time.perf_counter() - t0) * 1e3, "import_cpu_ms": (time.process_time() - c0) * 1e3}
""",
    "after openai": """
import time, openai
t0, c0 = time.perf_counter(), time.process_time()
import aigw_trace
result = {"import_ms": (time.perf_counter() - t0) * 1e3, "import_cpu_ms": (time.process_time() - c0) * 1e3}
""",
    "app": f"""
import gc, time
import openai, anthropic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
tp, mp = TracerProvider(), MeterProvider()
try:
    import httpx2 as http
except ImportError:  # an openai release before 3.x
    import httpx as http
_CHAT = {{"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [{{"index": 0,
         "message": {{"role": "assistant", "content": "hello"}}, "finish_reason": "stop"}}],
         "usage": {{"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}}}
client = openai.OpenAI(api_key="k", base_url="http://gateway.test/v1", max_retries=0,
                       http_client=http.Client(transport=http.MockTransport(lambda r: http.Response(200, json=_CHAT))))
gc.collect(); r0 = {_RSS}; t0, c0 = time.perf_counter(), time.process_time()
import aigw_trace
t1, c1 = time.perf_counter(), time.process_time(); gc.collect(); r1 = {_RSS}
t2, c2 = time.perf_counter(), time.process_time()
aigw_trace.instrument(tracer_provider=tp, meter_provider=mp)
t3, c3 = time.perf_counter(), time.process_time(); gc.collect(); r2 = {_RSS}
result = {{"import_ms": (t1 - t0) * 1e3, "import_cpu_ms": (c1 - c0) * 1e3,
           "instrument_ms": (t3 - t2) * 1e3, "instrument_cpu_ms": (c3 - c2) * 1e3,
           "import_rss_kb": r1 - r0, "instrument_rss_kb": r2 - r1}}
for call in ("first", "second"):
    t4, c4 = time.perf_counter(), time.process_time()
    client.chat.completions.create(model="m", messages=[{{"role": "user", "content": "hi"}}], temperature=0.5)
    t5, c5 = time.perf_counter(), time.process_time()
    result[call + "_call_ms"], result[call + "_call_cpu_ms"] = (t5 - t4) * 1e3, (c5 - c4) * 1e3
""",
}
# What instrument() spends, step by step in the order it imports (CPU ms of each import, then of the call itself).
_STEPS = [
    "opentelemetry.semconv._incubating.attributes.gen_ai_attributes", "aigw_trace._attributes", "aigw_trace._config",
    "aigw_trace._providers._spec", "aigw_trace._telemetry", "aigw_trace._call", "aigw_trace._streams",
    "aigw_trace._wrap", "aigw_trace._instrumentor", "aigw_trace._providers.openai", "aigw_trace._providers.anthropic",
]  # fmt: skip
# instrument() alone counted in instructions by callgrind (--toggle-collect): deterministic, whatever the load.
_INSTRUCTIONS_CODE = """
import functools
import openai, anthropic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
tp, mp = TracerProvider(), MeterProvider()
import aigw_trace
functools.reduce(lambda _, __: aigw_trace.instrument(tracer_provider=tp, meter_provider=mp), range(1), None)
result = {}
"""
_STEPS_CODE = f"""
import importlib, time
import openai, anthropic
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
tp, mp = TracerProvider(), MeterProvider()
import aigw_trace
result = {{}}
for name in {_STEPS!r}:
    c0 = time.process_time(); importlib.import_module(name); result[name] = (time.process_time() - c0) * 1e3
c0 = time.process_time()
aigw_trace.instrument(tracer_provider=tp, meter_provider=mp)
result["instrument() itself"] = (time.process_time() - c0) * 1e3
"""
_PRELUDE = "import sys\nif {src!r}: sys.path.insert(0, {src!r})\n"
_EPILOGUE = """
import json
if {src!r}:
    assert sys.modules["aigw_trace"].__file__.startswith({src!r}), "measured another aigw_trace than asked"
print(json.dumps(result))
"""


def _run(code: str, src: str, *flags: str) -> subprocess.CompletedProcess[str]:
    script = _PRELUDE.format(src=src) + code + _EPILOGUE.format(src=src)
    # As an application runs: no OTEL_/AIGW_ settings, and byte code cached (without it every run compiles source).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIGW_", "PYTHONDONTWRITEBYTECODE"))}
    return subprocess.run([sys.executable, *flags, "-c", script], capture_output=True, text=True, check=True, env=env)


def _importtime(stderr: str, root: str = "aigw_trace") -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for ``root`` and everything imported while importing it."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if m:
            rows.append((m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2))
    # -X importtime prints a module after its imports; the root is the last depth-0 line named ``root``.
    end = max(i for i, r in enumerate(rows) if r[0] == root and r[3] == 0)
    start = end
    while start > 0 and rows[start - 1][3] > 0:
        start -= 1
    return rows[start : end + 1]


def _package(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("opentelemetry", "aigw_trace") and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def instructions(src: str) -> int:
    """Instructions ``instrument()`` runs (callgrind, only inside the ``functools.reduce`` that calls it)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        flags = ["--tool=callgrind", "--collect-atstart=no", "--toggle-collect=functools_reduce",
                 f"--callgrind-out-file={out}"]  # fmt: skip
        script = _PRELUDE.format(src=src) + _INSTRUCTIONS_CODE + _EPILOGUE.format(src=src)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIGW_", "PYTHONDONTWRITEBYTECODE"))}
        proc = subprocess.run(["valgrind", *flags, sys.executable, "-c", script], capture_output=True, text=True,
                              check=True, env={**env, "PYTHONHASHSEED": "0"})  # fmt: skip
    match = re.search(r"Collected : (\d+)", proc.stderr)
    if match is None:
        raise RuntimeError(proc.stderr[-2000:])
    return int(match.group(1))


def breakdown(src: str, scenario: str, runs: int) -> dict[str, Any]:
    """Median self time per module and per package over ``runs`` ``-X importtime`` runs."""
    per_module: dict[str, list[int]] = {}
    totals = []
    for _ in range(runs):
        rows = _importtime(_run(_SCENARIOS[scenario], src, "-X", "importtime").stderr)
        totals.append(rows[-1][2])
        seen: dict[str, int] = {}
        for name, self_us, _, _ in rows:
            seen[name] = self_us
        for name in set(per_module) | set(seen):
            per_module.setdefault(name, []).append(seen.get(name, 0))
    modules = {name: statistics.median(v) for name, v in per_module.items()}
    packages: dict[str, float] = {}
    for name, us in modules.items():
        packages[_package(name)] = packages.get(_package(name), 0) + us
    return {
        "cumulative_ms": statistics.median(totals) / 1e3,
        "modules_imported": len(modules),
        "top_modules_ms": {n: round(us / 1e3, 2) for n, us in sorted(modules.items(), key=lambda kv: -kv[1])[:15]},
        "packages_ms": {n: round(us / 1e3, 2) for n, us in sorted(packages.items(), key=lambda kv: -kv[1])[:12]},
    }


def measure(srcs: dict[str, str], runs: int) -> dict[str, dict[str, dict[str, float]]]:
    """Median of ``runs`` fresh processes per (checkout, scenario); checkouts alternate run by run."""
    samples: dict[str, dict[str, list[dict[str, float]]]] = {label: {s: [] for s in _SCENARIOS} for label in srcs}
    for src in srcs.values():  # warm up: byte code written, files in the page cache
        _run(_SCENARIOS["app"], src)
    for _ in range(runs):
        for scenario, code in _SCENARIOS.items():
            for label, src in srcs.items():
                samples[label][scenario].append(json.loads(_run(code, src).stdout))
    return {
        label: {sc: {k: statistics.median(s[k] for s in rows) for k in rows[0]} for sc, rows in by_scenario.items()}
        for label, by_scenario in samples.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="fresh interpreters per figure")
    parser.add_argument("--importtime-runs", type=int, default=7)
    parser.add_argument("--compare", metavar="DIR", help="another checkout's src directory, measured alternately")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instrument()'s instructions under callgrind (needs valgrind; slow)",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "startup.json")
    args = parser.parse_args(argv)

    srcs = {"this checkout": str(ROOT / "src")}
    if args.compare:
        srcs[f"compare ({args.compare})"] = str(Path(args.compare).resolve())
    results: dict[str, Any] = {"python": sys.version.split()[0], "runs": args.runs, "load": os.getloadavg()}
    versions = _run("import importlib.metadata as m\nresult = {d: m.version(d) for d in "
                    "('openai', 'anthropic', 'opentelemetry-api', 'opentelemetry-sdk', 'wrapt')}", "")  # fmt: skip
    results["versions"] = json.loads(versions.stdout)
    results["timings"] = measure(srcs, args.runs)
    print(
        f"medians of {args.runs} fresh interpreters (load average {results['load'][0]:.1f}); "
        f"{', '.join(f'{k} {v}' for k, v in results['versions'].items())}"
    )
    print("wall ms (CPU ms of the process, which a busy machine does not inflate)")
    print(f"{'checkout':<40} {'cold import':>15} {'after openai':>15} {'app: import':>15} {'instrument()':>15} "
          f"{'first call':>15} {'second call':>15} {'import RSS':>10} {'instr. RSS':>10}")  # fmt: skip
    for label, t in results["timings"].items():
        cells = [f"{d[k + '_ms']:6.1f} ({d[k + '_cpu_ms']:5.1f})" for d, k in ((t["cold"], "import"),
                 (t["after openai"], "import"), (t["app"], "import"), (t["app"], "instrument"),
                 (t["app"], "first_call"), (t["app"], "second_call"))]  # fmt: skip
        rss = [f"{t['app'][k] / 1024:7.1f} MB" for k in ("import_rss_kb", "instrument_rss_kb")]
        print(f"{label:<40} " + " ".join(f"{c:>15}" for c in cells) + " " + " ".join(rss))
    steps = [json.loads(_run(_STEPS_CODE, srcs["this checkout"]).stdout) for _ in range(args.runs)]
    results["instrument_steps_cpu_ms"] = {k: statistics.median(r[k] for r in steps) for k in steps[0]}
    print("\ninstrument() in this checkout, step by step (CPU ms, median): " + ", ".join(
        f"{k} {v:.1f}" for k, v in results["instrument_steps_cpu_ms"].items()))  # fmt: skip
    if args.instructions:
        results["instrument_instructions"] = {label: instructions(src) for label, src in srcs.items()}
        print("\ninstrument() in instructions (callgrind): " + ", ".join(
            f"{label} {n / 1e6:.1f} M" for label, n in results["instrument_instructions"].items()))  # fmt: skip
    results["importtime"] = {}
    for label, src in srcs.items():
        for scenario in ("cold", "after openai"):
            b = breakdown(src, scenario, args.importtime_runs)
            results["importtime"][f"{label}: {scenario}"] = b
            print(f"\n-X importtime, {label}, {scenario}: {b['cumulative_ms']:.1f} ms cumulative, "
                  f"{b['modules_imported']} modules")  # fmt: skip
            print("  by package (self time): " + ", ".join(f"{n} {ms:.1f}" for n, ms in b["packages_ms"].items()))
            print("  by module (self time):  " + ", ".join(f"{n} {ms:.1f}" for n, ms in b["top_modules_ms"].items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
