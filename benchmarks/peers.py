"""aigw-trace side by side with the instrumentations a user would pick instead, each in its own virtualenv.

Every peer gets a virtualenv (``uv``) holding the same pinned SDK releases and OpenTelemetry SDK, aigw-trace from
this checkout (``-e``) and the peer. In it ``benchmarks/peers/child.py`` measures three configurations over the same
in-process mock transport and bodies as bench.py: the bare SDK, aigw-trace, and the peer. A peer whose declared range
excludes the newest SDK major, or which does not work on it, is measured on the newest major where it works, with the
bare SDK and aigw-trace on that same major in the same virtualenv; why each newer attempt failed is recorded.

Figures: added CPU instructions per call under callgrind (``--calls`` calls counted after a warm-up, as
instructions.py does), paired wall time (interleaved blocks against the bare SDK in the same process, median of
per-block differences), and what one call records (spans, attributes on the GenAI span, metric records, whether
``traceparent`` reached the HTTP request, whether prompt or completion text is on a span).

Run: ``nox -s bench-peers`` (or ``python benchmarks/peers.py --help``; needs ``uv`` and ``valgrind``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).resolve().parent / "peers" / "child.py"
VENVS = ROOT / ".nox" / "peer-venvs"
VARIANTS = {
    "spans": "its metrics to the API's no-op meter provider",
    "local": "propagate=False: no traceparent sent",
    "floor": "bench.py's floor by hand, nothing installed: span, inject, records",
}
"""``--variants``: aigw-trace configurations that record less (``aigw-trace-<name>`` in ``peers/child.py``), and
``floor``: the hand-written floor in the peer's virtualenv (bench.py's for the chat, embeddings and message calls,
``peers/child.py``'s for the Responses call), to say whether any instrumentation recording that much could reach a
ratio."""
FLOOR_SCENARIOS = {"chat", "embeddings", "responses", "message"}

OTEL_SDK = "opentelemetry-sdk==1.45.2"
SDK_SETS = {  # newest first: the newest major's release the test suite pins, then the last release of older majors
    "openai3-anthropic2": ["openai==3.54.0", "anthropic==2.12.0"],
    "openai2-anthropic1": ["openai==2.54.0", "anthropic==1.17.0"],
}
OPENAI = ["chat", "chat-stream", "embeddings", "responses", "search"]
ANTHROPIC = ["message", "message-stream", "batch"]


@dataclass
class Peer:
    packages: list[str]
    scenarios: list[str]
    fixes: list[str] = field(default_factory=list)
    """Pins tried when the plain install does not work (each attempt is recorded)."""


PEERS = {
    "aigw-trace": Peer([], OPENAI + ANTHROPIC),
    "openai-v2": Peer(
        ["opentelemetry-instrumentation-openai-v2"],
        OPENAI,
        # 2.4b0 imports opentelemetry.util.genai.instruments, which util-genai 1.1b0 removed.
        fixes=["opentelemetry-util-genai<1.1"],
    ),
    "genai-openai": Peer(["opentelemetry-instrumentation-genai-openai"], OPENAI),
    "genai-anthropic": Peer(["opentelemetry-instrumentation-genai-anthropic"], ANTHROPIC),
    "openinference-openai": Peer(["openinference-instrumentation-openai"], OPENAI),
    "openinference-anthropic": Peer(["openinference-instrumentation-anthropic"], ANTHROPIC),
    "openllmetry-openai": Peer(["opentelemetry-instrumentation-openai"], OPENAI),
    "openllmetry-anthropic": Peer(["opentelemetry-instrumentation-anthropic"], ANTHROPIC),
    "anthropic-native": Peer([], ANTHROPIC),
}


def _child(python: Path, mode: str, peer: str, *args: str, timeout: float = 1200) -> Any:
    proc = subprocess.run([str(python), str(CHILD), mode, "--peer", peer, *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=ROOT)  # fmt: skip
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@") :])
    raise RuntimeError((proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"])


def _venv(name: str, packages: list[str], python: str) -> Path:
    """A virtualenv holding ``packages`` (reused when the same list was installed before)."""
    path = VENVS / name
    marker = path / "aigw-peer-packages.json"
    if marker.exists() and json.loads(marker.read_text()) == packages:
        return path / "bin" / "python"
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["uv", "venv", "-q", "--python", python, str(path)], check=True)
    proc = subprocess.run(["uv", "pip", "install", "-q", "--python", str(path / "bin" / "python"), *packages],
                          capture_output=True, text=True)  # fmt: skip
    if proc.returncode:
        raise RuntimeError(f"install failed: {proc.stderr.strip().splitlines()[-1:]}")
    marker.write_text(json.dumps(packages))
    return path / "bin" / "python"


def _declared_ok(declares: list[str], versions: dict[str, str | None]) -> str | None:
    """Why the installed SDKs are outside what the peer declares (None when inside), via ``packaging``."""
    from packaging.requirements import Requirement

    for text in declares:
        req = Requirement(text)
        version = versions.get(req.name)
        if version is not None and req.specifier and not req.specifier.contains(version, prereleases=True):
            return f"declares {req.name}{req.specifier}, not {version}"
    return None


def setup(peer: str, scenarios: list[str], python: str) -> dict[str, Any]:
    """Install the peer on the newest SDK set where it declares support and records a span; keep the failures."""
    spec = PEERS[peer]
    attempts: list[dict[str, Any]] = []
    for sdk_set, sdks in SDK_SETS.items():
        for fix in [None, *spec.fixes]:
            name = f"{peer}-{sdk_set}" + ("-fixed" if fix else "")
            packages = ["-e", str(ROOT), OTEL_SDK, *sdks, *spec.packages, *([fix] if fix else [])]
            attempt: dict[str, Any] = {"sdk_set": sdk_set, "extra_pin": fix}
            attempts.append(attempt)
            try:
                exe = _venv(name, packages, python)
                about = _child(exe, "info", peer, timeout=300)
                why = _declared_ok(about.get("declares", []), about["versions"])
                if why:
                    attempt["failed"] = why
                    break  # a pin will not change what the peer declares
                probe = _child(exe, "record", peer, "--scenarios", scenarios[0], timeout=300)[scenarios[0]]
                if "error" in probe or probe["spans"] == 0:
                    attempt["failed"] = probe.get("error") or "no span recorded"
                    continue
            except (RuntimeError, subprocess.SubprocessError, OSError) as exc:
                attempt["failed"] = str(exc)[:300]
                continue
            return {"python_exe": str(exe), "sdk_set": sdk_set, "info": about, "attempts": attempts}
    return {"attempts": attempts}


def _count(exe: str, peer: str, scenarios: list[str], configs: list[str], calls: int) -> dict[tuple[str, str], float]:
    """Instructions per call for each (scenario, configuration), from one callgrind process (one dump per pair)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=functools_reduce",
             "--dump-after=functools_reduce", f"--callgrind-out-file={out}", exe, str(CHILD), "count", "--peer", peer,
             "--scenarios", *scenarios, "--configs", *configs, "--calls", str(calls)],
            capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"}, cwd=ROOT,
        )  # fmt: skip
        pairs = [(sc, c) for sc in scenarios for c in configs]
        totals = []
        for i in range(1, len(pairs) + 1):
            dump = Path(f"{out}.{i}")
            match = re.search(r"^totals: (\d+)", dump.read_text(), re.M) if dump.exists() else None
            totals.append(int(match.group(1)) if match else None)
    if proc.returncode or None in totals:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1:])
    return {pair: total / calls for pair, total in zip(pairs, totals, strict=True) if total is not None}


def _fmt_metrics(metrics: dict[str, int]) -> str:
    if not metrics:
        return "none"
    return f"{len(metrics)} ({sum(metrics.values())} rec)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", nargs="*", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--scenarios", nargs="*", default=OPENAI + ANTHROPIC, choices=OPENAI + ANTHROPIC)
    parser.add_argument("--calls", type=int, default=20, help="calls counted per callgrind run")
    parser.add_argument("--blocks", type=int, default=15, help="wall time: interleaved blocks per scenario")
    parser.add_argument("--block-calls", type=int, default=20, help="wall time: calls per block")
    parser.add_argument("--jobs", type=int, default=2, help="callgrind runs in parallel")
    parser.add_argument("--no-instructions", action="store_true", help="skip callgrind")
    parser.add_argument("--no-wall", action="store_true", help="skip wall time (e.g. on a busy machine)")
    parser.add_argument("--python", default=f"{sys.version_info.major}.{sys.version_info.minor}")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "peers.json")
    parser.add_argument("--markdown", type=Path, help="print the table of a results file as markdown, and stop")
    parser.add_argument("--variants", nargs="*", default=[], choices=list(VARIANTS),
                        help="also count aigw-trace recording less, to set it like for like against a peer that "
                             "records less: " + "; ".join(f"{k}: {v}" for k, v in VARIANTS.items()))  # fmt: skip
    args = parser.parse_args(argv)
    if args.markdown:
        _markdown(json.loads(args.markdown.read_text()))
        return 0
    count_on = not args.no_instructions and shutil.which("valgrind") is not None
    if not args.no_instructions and not count_on:
        print("valgrind not found: wall time only")
    peers = list(dict.fromkeys(["aigw-trace", *args.peers]))  # aigw-trace's venv holds the newest baseline

    setups: dict[str, dict[str, Any]] = {}
    for peer in peers:
        scenarios = [s for s in PEERS[peer].scenarios if s in args.scenarios]
        if not scenarios:
            continue
        setups[peer] = setup(peer, scenarios, args.python)
        state = setups[peer].get("sdk_set") or "NOT MEASURED"
        print(f"{peer}: {state}", flush=True)
        for a in setups[peer]["attempts"]:
            if "failed" in a:
                print(f"  {a['sdk_set']}{' + ' + a['extra_pin'] if a['extra_pin'] else ''}: {a['failed']}", flush=True)

    # What each call records, then wall time (sequentially, nothing else running), then instructions in parallel.
    results: dict[str, dict[str, Any]] = {}
    for peer, s in setups.items():
        if "python_exe" not in s:
            continue
        scenarios = [x for x in PEERS[peer].scenarios if x in args.scenarios]
        exe = Path(s["python_exe"])
        rec = _child(exe, "record", peer, "--scenarios", *scenarios)
        configs = ["bare", "aigw-trace"] + ([] if peer == "aigw-trace" else ["peer"])
        if args.no_wall:
            results[peer] = {sc: {"record": rec[sc], "wall": {}} for sc in scenarios}
            continue
        print(f"wall time: {peer} ({', '.join(scenarios)})", flush=True)
        w = _child(exe, "wall", peer, "--scenarios", *scenarios, "--configs", *configs, "--blocks", str(args.blocks),
                   "--calls", str(args.block_calls))  # fmt: skip
        results[peer] = {sc: {"record": rec[sc], "wall": w[sc]} for sc in scenarios}
    _write(args, setups, results)  # what is known so far survives an interrupted callgrind phase
    if count_on:
        # One callgrind process per virtualenv; the bare SDK and aigw-trace are counted once per SDK set (in
        # aigw-trace's virtualenv for the newest, in the peer's own for an older one).
        counted: dict[str, set[str]] = {}
        jobs: dict[str, concurrent.futures.Future[dict[tuple[str, str], float]]] = {}
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for peer, rows in results.items():
                sdk_set, scenarios = setups[peer]["sdk_set"], list(rows)
                baseline_needed = not set(scenarios) <= counted.setdefault(sdk_set, set())
                counted[sdk_set].update(scenarios)
                baseline = ["bare", "aigw-trace", *(f"aigw-trace-{v}" for v in args.variants)]
                configs = (baseline if baseline_needed else []) + ([] if peer == "aigw-trace" else ["peer"])
                jobs[peer] = pool.submit(_count, setups[peer]["python_exe"], peer, scenarios, configs, args.calls)
            print(f"callgrind: {len(jobs)} processes, {args.jobs} at a time", flush=True)
            counts: dict[tuple[str, str, str], float] = {}
            for peer, future in jobs.items():
                try:
                    counts.update({(peer, sc, c): v for (sc, c), v in future.result().items()})
                except RuntimeError as exc:
                    print(f"callgrind failed for {peer}: {exc}", flush=True)
        base: dict[tuple[str, str], dict[str, float]] = {}
        for (peer, sc, config), value in counts.items():
            if config != "peer":
                base.setdefault((setups[peer]["sdk_set"], sc), {})[config] = value
        for peer, rows in results.items():
            for sc, row in rows.items():
                ins = row["instructions"] = dict(base.get((setups[peer]["sdk_set"], sc), {}))
                if (peer, sc, "peer") in counts:
                    ins["peer"] = counts[(peer, sc, "peer")]
                for variant in VARIANTS:
                    if variant == "floor" and sc not in FLOOR_SCENARIOS:
                        ins.pop("aigw-trace-floor", None)  # counted as the bare call: nothing to report
                    if "bare" in ins and f"aigw-trace-{variant}" in ins:
                        ins[f"aigw-trace-{variant} added"] = ins[f"aigw-trace-{variant}"] - ins["bare"]
                if "bare" in ins and "aigw-trace" in ins:
                    ins["aigw-trace added"] = ins["aigw-trace"] - ins["bare"]
                    if "peer" in ins:
                        ins["peer added"] = ins["peer"] - ins["bare"]
                        ins["ratio to aigw-trace"] = ins["peer added"] / ins["aigw-trace added"]

    _table(results, setups)
    _write(args, setups, results)
    print(f"written: {args.json}")
    return 0


def _write(args: argparse.Namespace, setups: dict[str, dict[str, Any]], results: dict[str, dict[str, Any]]) -> None:
    output = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "load_average": os.getloadavg(),
        },
        "command": " ".join(sys.argv),
        "calls_counted": args.calls,
        "wall": {"blocks": args.blocks, "calls_per_block": args.block_calls},
        "sdk_sets": SDK_SETS,
        "opentelemetry_sdk": OTEL_SDK,
        "peers": {p: {k: v for k, v in s.items() if k != "python_exe"} for p, s in setups.items()},
        "results": results,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2))


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return platform.processor()
    match = re.search(r"Model name:\s*(.+)", out)
    return match.group(1).strip() if match else platform.processor()


def _table(results: dict[str, dict[str, Any]], setups: dict[str, dict[str, Any]]) -> None:
    head = (f"{'scenario':<15} {'peer':<24} {'sdks':<19} {'instr+':>8} {'ratio':>6} {'wall+':>8} {'aigw wall+':>10} "
            f"{'spans':>5} {'attrs':>5} {'metrics':<12} {'tp':<3} content")  # fmt: skip
    print(head)
    print("-" * len(head))
    scenarios = list(dict.fromkeys(sc for rows in results.values() for sc in rows))
    for sc in scenarios:
        for peer, rows in results.items():
            if sc not in rows:
                continue
            row = rows[sc]
            rec, w, ins = row["record"], row["wall"], row.get("instructions", {})
            key = "aigw-trace" if peer == "aigw-trace" else "peer"
            added = ins.get(f"{key} added")
            ratio = ins.get("ratio to aigw-trace", 1.0 if peer == "aigw-trace" and added else None)
            instr = f"{added / 1e3:>7.0f}k" if isinstance(added, float) else f"{'-':>8}"
            ratio_s = f"{ratio:>6.2f}" if isinstance(ratio, float) else f"{'-':>6}"
            peer_us, aigw_us = w.get(f"{key}_added_us"), w.get("aigw-trace_added_us")  # absent with --no-wall
            wall_s = f"{peer_us:>6.0f}µs" if isinstance(peer_us, float) else f"{'-':>8}"
            aigw_s = f"{aigw_us:>8.0f}µs" if isinstance(aigw_us, float) else f"{'-':>10}"
            if "error" in rec:
                print(f"{sc:<15} {peer:<24} {setups[peer]['sdk_set']:<19} call raised: {rec['error'][:60]}")
                continue
            print(f"{sc:<15} {peer:<24} {setups[peer]['sdk_set']:<19} {instr} {ratio_s} {wall_s} {aigw_s} "
                  f"{rec['spans']:>5} {rec['attrs']:>5} {_fmt_metrics(rec['metrics']):<12} "
                  f"{'yes' if rec['traceparent'] else 'no':<3} {'yes' if rec['content'] else 'no'}")  # fmt: skip
            peer_added = ins.get("peer added")
            for variant, what in VARIANTS.items():
                less = ins.get(f"aigw-trace-{variant} added")
                if key == "peer" and isinstance(less, float) and isinstance(peer_added, float):
                    # Like for like against a peer that records less than aigw-trace does by default.
                    label = "  the floor, by hand" if variant == "floor" else "  aigw-trace, " + variant
                    print(f"{'':<15} {label:<24} {'':<19} {less / 1e3:>7.0f}k "
                          f"{peer_added / less:>6.2f}   ({what})")  # fmt: skip
    print("instr+ / wall+: added per call vs the bare SDK in the same venv; ratio: peer's instr+ / aigw-trace's instr+ "
          "on the same SDKs; aigw wall+: aigw-trace in the same process; tp: traceparent sent")  # fmt: skip


def _markdown(data: dict[str, Any]) -> None:
    """The table for docs/performance.md."""
    results, peers = data["results"], data["peers"]
    print(
        "| Scenario | Instrumentation | SDKs | Instructions + | Ratio | Wall + | aigw-trace wall + | Spans "
        "| Attributes | Metrics (records) | `traceparent` | Content |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---|---|---|")
    scenarios = list(dict.fromkeys(sc for rows in results.values() for sc in rows))
    for sc in scenarios:
        for peer, rows in results.items():
            if sc not in rows:
                continue
            rec, w, ins = rows[sc]["record"], rows[sc]["wall"], rows[sc].get("instructions", {})
            key = "aigw-trace" if peer == "aigw-trace" else "peer"
            sdks = peers[peer]["sdk_set"].replace("openai", "openai ").replace("-anthropic", ", anthropic ")
            added = ins.get(f"{key} added")
            ratio = ins.get("ratio to aigw-trace")
            cells = [
                sc,
                f"**{peer}**" if peer == "aigw-trace" else peer,
                sdks,
                f"{added / 1e3:,.0f}k" if isinstance(added, float) else "-",
                f"{ratio:.2f}" if isinstance(ratio, float) else ("1" if peer == "aigw-trace" else "-"),
                f"{w[f'{key}_added_us']:.0f} µs" if f"{key}_added_us" in w else "-",
                f"{w['aigw-trace_added_us']:.0f} µs" if "aigw-trace_added_us" in w else "-",
            ]
            if "error" in rec:
                cells += ["call raised", "", "", "", ""]
            else:
                metrics = ", ".join(f"{n.removeprefix('gen_ai.client.')} ({c})" for n, c in rec["metrics"].items())
                cells += [str(rec["spans"]), str(rec["attrs"]), metrics or "none",
                          "yes" if rec["traceparent"] else "no", "yes" if rec["content"] else "no"]  # fmt: skip
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
