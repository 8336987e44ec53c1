"""Throughput at scale with and without aigw-trace.

- **async**: ``--streams`` concurrent 50-chunk chat streams on one event loop (one ``AsyncOpenAI`` client);
- **threads**: ``--threads`` threads sharing one sync ``OpenAI`` client, each making plain chat calls;

both against a minimal asyncio HTTP/1.1 server on ``127.0.0.1`` in a separate process (canned bench.py bodies, so
the server's cost is not in the measured process). Rounds alternate bare / instrumented / the floor (the same calls
with the least a conventions-recording instrumentation can add, written out by hand) in the same process; the figure
is the median throughput of each, and its ratio to bare. Start-up cost is ``benchmarks/startup.py``'s.

Run: ``nox -s bench-scale`` (or ``python benchmarks/scale.py --help``). Reports figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench

# --- the server (runs in its own process: ``scale.py --serve``) ---


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length:\s*(\d+)", head)
            body = await reader.readexactly(int(match.group(1))) if match else b""
            stream = b'"stream":true' in body.replace(b" ", b"")
            content = bench.CHAT_STREAM_BODY if stream else bench.CHAT_BODY
            ctype = b"text/event-stream" if stream else b"application/json"
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: " + ctype + b"\r\ncontent-length: "
                         + str(len(content)).encode() + b"\r\n\r\n" + content)  # fmt: skip
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve() -> None:
    server = await asyncio.start_server(_serve_connection, "127.0.0.1", 0, backlog=2048)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


# --- the client side ---


def _providers() -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(bench._Discard()))
    return tp, MeterProvider(metric_readers=[InMemoryMetricReader()])


def _stream_call(client: Any) -> Callable[[], Awaitable[None]]:
    """One 50-chunk chat stream read to its end: what the async rounds run, bare or under aigw-trace."""

    async def one() -> None:
        stream = await client.chat.completions.create(model="gpt-4o", messages=bench.MESSAGES, stream=True,
                                                      stream_options={"include_usage": True})  # fmt: skip
        async for _ in stream:
            pass

    return one


def _stream_floor(client: Any, tp: Any, mp: Any) -> Callable[[], Awaitable[None]]:
    """``bench.stream_floor_of`` for an async stream: the same stream, with the least an instrumentation that
    records it as the conventions ask can add (a span, one inject, an async generator in front of the SDK's that
    reads the finish reason and usage off the chunks, and ``bench.StreamFloorRecords``' records at its end), written
    out by hand."""
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind, set_span_in_context

    from aigw_trace import _attributes as A

    records = bench.StreamFloorRecords(SimpleNamespace(tracer_provider=tp, meter_provider=mp), "openai")
    tracer, start_attrs, end = records.tracer, records.start_attrs, records.end

    async def observe(chunks: Any, span: Any, ctx: Any, t0: float) -> AsyncIterator[Any]:
        # The async twin of bench.stream_floor_of's chunk loop.
        first_at = 0.0
        response_id = response_model = usage = None
        finish: list[str] = []
        metric_extra: dict[str, Any] = {}
        async for chunk in chunks:
            if not first_at:
                first_at = time.perf_counter()
                response_id, response_model = chunk.id, chunk.model
                metric_extra = {A.OPENAI_RESPONSE_SERVICE_TIER: chunk.service_tier,
                                A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: chunk.system_fingerprint}  # fmt: skip
            choices = chunk.choices
            if choices:
                reason = choices[0].finish_reason
                if reason is not None:
                    finish.append(reason)
            else:
                usage = chunk.usage
            yield chunk
        end(span, ctx, t0, first_at,
            (response_id, response_model, finish, usage.prompt_tokens, usage.completion_tokens,
             metric_extra))  # fmt: skip

    async def one() -> None:
        t0 = time.perf_counter()
        span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=start_attrs)
        ctx = set_span_in_context(span)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=ctx)
        stream = await client.chat.completions.create(model="gpt-4o", messages=bench.MESSAGES, stream=True,
                                                      stream_options={"include_usage": True},
                                                      extra_headers=carrier)  # fmt: skip
        async for _ in observe(stream, span, ctx, t0):
            pass

    return one


async def _async_round(one: Callable[[], Awaitable[None]], streams: int) -> tuple[float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    with _gc_watch() as collected:
        await asyncio.gather(*(one() for _ in range(streams)))
    _GC_ROUNDS.append({k: v / streams for k, v in collected.items()})
    return streams / (time.perf_counter() - t0), (time.process_time() - c0) / streams


_GC_ROUNDS: list[dict[str, float]] = []
"""Per async round: the cycle collector's runs and time per stream (a live heap of 1,000 streams makes every full
collection long, so what a stream allocates can cost more there than it does alone)."""


@contextlib.contextmanager
def _gc_watch() -> Iterator[dict[str, float]]:
    collected = {"gen0": 0.0, "gen1": 0.0, "gen2": 0.0, "seconds": 0.0}
    started = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collected[f"gen{info['generation']}"] += 1
            collected["seconds"] += time.perf_counter() - started[0]

    gc.callbacks.append(callback)
    try:
        yield collected
    finally:
        gc.callbacks.remove(callback)


def _thread_round(call: Any, threads: int, calls: int) -> tuple[float, float]:
    """Calls per second, and this process's CPU seconds per call (the server runs in another process)."""
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(calls):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    t0, c0 = time.perf_counter(), time.process_time()
    for t in pool:
        t.join()
    return threads * calls / (time.perf_counter() - t0), (time.process_time() - c0) / (threads * calls)


def throughput(port: int, streams: int, threads: int, calls: int, rounds: int, only: str = "") -> dict[str, Any]:
    import httpx2
    import openai

    import aigw_trace

    tp, mp = _providers()
    base = f"http://127.0.0.1:{port}/v1"
    limits = httpx2.Limits(max_connections=streams, max_keepalive_connections=streams)
    aclient = openai.AsyncOpenAI(api_key="sk-bench", base_url=base, max_retries=0, timeout=120,
                                 http_client=httpx2.AsyncClient(limits=limits, timeout=120))  # fmt: skip
    sclient = openai.OpenAI(api_key="sk-bench", base_url=base, max_retries=0, timeout=120,
                            http_client=httpx2.Client(limits=httpx2.Limits(max_connections=threads)))  # fmt: skip
    loop = asyncio.new_event_loop()
    out: dict[str, Any] = {}

    def chat() -> Any:
        return sclient.chat.completions.create(model="gpt-4o", messages=bench.MESSAGES, temperature=0.2)

    # The thread rounds also run bench.py's floor around the same call (one span, one inject, three histogram
    # records, written out by hand), so the ratio aigw-trace reaches is read against what any instrumentation that
    # records the conventions' span and metrics can reach on this client.
    # The async rounds run its stream floor the same way (see _stream_floor).
    floor = bench.floor_of(SimpleNamespace(client=sclient, tracer_provider=tp, meter_provider=mp), False)
    stream, stream_floor = _stream_call(aclient), _stream_floor(aclient, tp, mp)
    one_thread = threads * calls // 4
    for name, run, call, floor_call in (
        (f"async: {streams} concurrent streams",
         lambda one: loop.run_until_complete(_async_round(one, streams)), stream, stream_floor),
        (f"threads: {threads} threads x {calls} calls, one client",
         lambda call: _thread_round(call, threads, calls), chat, floor),
        # The same calls from one thread: CPU per call here against the 32-thread figure shows what contention adds.
        (f"threads: 1 thread x {one_thread} calls", lambda call: _thread_round(call, 1, one_thread), chat, floor),
    ):  # fmt: skip
        if only and not name.startswith(only):
            continue
        run(call)  # warm up: connections open, code paths hot
        configs = ("bare", "aigw-trace", "floor")
        samples: dict[str, list[tuple[float, float]]] = {c: [] for c in configs}
        gc_rounds: dict[str, list[dict[str, float]]] = {c: [] for c in configs}
        for r in range(rounds):
            for config in configs[r % len(configs) :] + configs[: r % len(configs)]:
                if config == "aigw-trace":
                    aigw_trace.instrument(tracer_provider=tp, meter_provider=mp)
                _GC_ROUNDS.clear()
                samples[config].append(run(floor_call if config == "floor" else call))
                gc_rounds[config] += _GC_ROUNDS
                if config == "aigw-trace":
                    aigw_trace.uninstrument()
        rate = {c: statistics.median(r for r, _ in samples[c]) for c in configs}
        cpu = {c: statistics.median(u for _, u in samples[c]) * 1e6 for c in configs}
        bare, ours, cpu_bare, cpu_ours = rate["bare"], rate["aigw-trace"], cpu["bare"], cpu["aigw-trace"]
        out[name] = {"bare_per_s": bare, "aigw-trace_per_s": ours, "ratio": ours / bare,
                     "cpu_us_per_item": {"bare": cpu_bare, "aigw-trace": cpu_ours, "added": cpu_ours - cpu_bare},
                     "rounds": samples}  # fmt: skip
        print(f"{name:<46} bare {bare:>8.0f}/s   aigw-trace {ours:>8.0f}/s   ratio {ours / bare:.3f}   "
              f"client CPU per item {cpu_bare:>6.0f} -> {cpu_ours:>6.0f} µs (+{cpu_ours - cpu_bare:.0f})",
              flush=True)  # fmt: skip
        out[name] |= {"floor_per_s": rate["floor"], "floor_ratio": rate["floor"] / bare}
        out[name]["cpu_us_per_item"]["floor"] = cpu["floor"]
        print(f"{'':<46} floor {rate['floor']:>7.0f}/s   ratio {rate['floor'] / bare:.3f}   client CPU per item "
              f"{cpu['floor']:>6.0f} µs (+{cpu['floor'] - cpu_bare:.0f})", flush=True)  # fmt: skip
        if gc_rounds["bare"]:
            gc_us = {c: statistics.median(g["seconds"] for g in gc_rounds[c]) * 1e6 for c in gc_rounds}
            runs = {c: {k: statistics.median(g[k] for g in gc_rounds[c]) for k in ("gen0", "gen1", "gen2")}
                    for c in gc_rounds}  # fmt: skip
            out[name]["gc"] = {"us_per_item": gc_us, "collections_per_item": runs, "rounds": gc_rounds}
            print(f"{'':<46} cycle collector per stream {gc_us['bare']:>6.0f} -> {gc_us['aigw-trace']:>6.0f} µs "
                  f"(floor {gc_us['floor']:.0f}); full collections per 1,000 streams {runs['bare']['gen2'] * 1e3:.1f} "
                  f"-> {runs['aigw-trace']['gen2'] * 1e3:.1f} (floor {runs['floor']['gen2'] * 1e3:.1f})",
                  flush=True)  # fmt: skip
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--calls", type=int, default=30, help="calls per thread per round")
    parser.add_argument("--rounds", type=int, default=12,
                        help="rounds per configuration (the median is reported; 6-round medians of the same code "
                             "spread by several points)")  # fmt: skip
    parser.add_argument("--only", choices=["async", "threads"], default="", help="one part (default: both)")
    parser.add_argument("--json", type=Path, default=Path(__file__).parent / "results" / "scale.json")
    args = parser.parse_args(argv)
    if args.serve:
        asyncio.run(_serve())
        return 0
    server = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        results: dict[str, Any] = {"python": sys.version.split()[0], "cpus": os.cpu_count()}
        results["load_average"] = os.getloadavg()
        results["throughput"] = throughput(port, args.streams, args.threads, args.calls, args.rounds, args.only)
        results["load_average_after"] = os.getloadavg()
        print(
            f"load average (1, 5, 15 min): {results['load_average'][0]:.1f} {results['load_average'][1]:.1f} "
            f"{results['load_average'][2]:.1f} before, {results['load_average_after'][0]:.1f} after"
        )
    finally:
        server.terminate()
        server.wait()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
