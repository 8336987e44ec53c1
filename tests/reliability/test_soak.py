"""Soak: many concurrent streams ending every which way, and many threads on one client (reliability session only).

* 10,000 async streams, 200 at a time, on one shared client per SDK, each ending at random: read to the end,
  closed early, cancelled, timed out, or cut by the server. Afterwards no span is open, none was ended twice, memory
  after a full collection grew by less than 5 MB, and the library's caches are bounded although every call used a
  new request model and got a new response model.
* 32 threads making sync calls on one shared client, each inside its own ``aigw_trace.attributes`` scope: one span
  per call and every span carries its own thread's scope (tasks are checked the same way in the async soak).
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import threading
import tracemalloc
from typing import Any

import anthropic
import httpx2
import openai

import aigw_trace
from aigw_trace import _attributes as A
from aigw_trace import _http_body, _safety
from aigw_trace._providers.openai import _routes as openai_routes
from tests.reliability import bodies
from tests.reliability.conftest import full_only
from tests.reliability.harness import Script, Server, _Body, client

MODES = ["read", "read", "close", "cancel", "timeout", "cut"]


class SoakServer(Server):
    """Answers each request by its ``x-soak`` header, with the response model derived from the request's; keeps
    no requests (they would be the soak's biggest memory)."""

    def _respond(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.answered = getattr(self, "answered", 0) + 1
        family = "messages" if request.url.path.endswith("/messages") else "chat"
        fam = bodies.FAMILIES[family]
        assert fam.events is not None
        sources = {**fam.sources, "model": f"{body['model']}-served"}
        mode = request.headers.get("x-soak", "read")
        if not body.get("stream"):
            return httpx2.Response(200, json=fam.body(sources))
        frames = bodies.encode_sse(fam, [(e.get("type"), e) for _, e in fam.events(sources)])
        fault = {"cancel": "hang", "timeout": "hang", "cut": "cut"}.get(mode)
        script = Script(chunks=frames, fault=fault, after=2)
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, stream=_Body(script, self))


async def _one(i: int, mode: str, sdks: dict[str, Any]) -> None:
    provider = "anthropic" if i % 2 else "openai"
    sdk = sdks[provider]
    # More models than a client's cache holds (64), few enough that the warm-up meets every metric attribute set
    # the OpenTelemetry SDK will keep (its memory grows with their number, by design).
    model = f"model-{i % 100}"

    async def consume() -> None:
        with aigw_trace.attributes(**{"app.task": i}):
            if provider == "openai":
                stream = await sdk.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}], stream=True,
                    extra_headers={"x-soak": mode},
                )  # fmt: skip
            else:
                stream = await sdk.messages.create(
                    model=model, max_tokens=8, messages=[{"role": "user", "content": "hi"}], stream=True,
                    extra_headers={"x-soak": mode},
                )  # fmt: skip
            async for _ in stream:
                if mode == "close":
                    await stream.close()
                    break
                if mode == "cancel":
                    asyncio.current_task().cancel()  # type: ignore[union-attr]

    try:
        if mode == "timeout":
            await asyncio.wait_for(consume(), timeout=random.uniform(0.0005, 0.005))
        else:
            await consume()
    except (asyncio.CancelledError, asyncio.TimeoutError, httpx2.HTTPError, openai.APIError, anthropic.APIError):
        pass


async def _batch(start: int, n: int, sdks: dict[str, Any], rng: random.Random) -> None:
    gate = asyncio.Semaphore(200)

    async def limited(i: int) -> None:
        async with gate:
            await _one(i, rng.choice(MODES), sdks)

    await asyncio.gather(*(limited(i) for i in range(start, start + n)))


@full_only
async def test_10k_async_streams_leave_nothing_open_and_memory_flat(aigw_telemetry, ledger):
    rng = random.Random(16)
    ledger.keep = False
    server = SoakServer()
    sdks = {p: client(server, p, is_async=True) for p in ("openai", "anthropic")}
    await _batch(0, 1000, sdks, rng)  # warm-up: classes, caches, allocator arenas
    aigw_telemetry.span_exporter.clear()
    libraries = len(_http_body._LIBRARIES)
    gc.collect()
    # Live Python memory, as tracemalloc counts it: RSS also moves with the allocator's arenas and fragmentation
    # (it grows by ~15-25 MB here whether or not anything is kept), so it cannot show a 5 MB leak.
    tracemalloc.start(1)
    before = tracemalloc.get_traced_memory()[0]

    for start in range(1000, 11000, 2000):
        await _batch(start, 2000, sdks, rng)
        spans = aigw_telemetry.spans()
        for span in spans:  # no cross-talk between tasks
            task = span.attributes["app.task"]
            assert span.attributes[A.REQUEST_MODEL] == f"model-{task % 100}"
        aigw_telemetry.span_exporter.clear()
        del spans, span
    for _ in range(5):
        await asyncio.sleep(0)
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    top = tracemalloc.take_snapshot().statistics("lineno")[:5]
    print(f"soak: {ledger.started} spans, live memory grew by {grown / 2**20:.2f} MB, outcomes {dict(ledger.outcomes)}")
    tracemalloc.stop()

    ledger.assert_all_ended_once()
    assert ledger.started == 11000
    assert {"completed", "closed", "cancelled", "error"} <= set(ledger.outcomes)
    assert sum(ledger.outcomes.values()) == 11000
    assert grown < 5 * 2**20, f"memory grew by {grown / 2**20:.1f} MB after 10,000 streams; biggest: {top}"

    # caches: bounded by code, not by traffic
    assert len(_http_body._LIBRARIES) == libraries <= 8  # one per HTTP response class, none per call
    for sdk in sdks.values():
        assert len(sdk.__dict__["_aigw_constants"][1]) <= 64
        for metrics, _base, _name in sdk.__dict__["_aigw_constants"][1].values():
            assert len(metrics.by_model) <= 16
    assert len(openai_routes._GENERIC) <= 5 * len(openai_routes.TEMPLATES)
    assert len(_safety._seen) <= 50


@full_only
def test_32_threads_on_one_client_one_span_per_call_no_cross_talk(aigw_telemetry, ledger):
    server = SoakServer()
    sdk = client(server, "openai", is_async=False)
    calls = 40
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            with aigw_trace.attributes(**{"app.thread": t}):
                for j in range(calls):
                    model = f"t{t}-{j}"
                    messages = [{"role": "user", "content": "hi"}]
                    if j % 2:
                        for _ in sdk.chat.completions.create(model=model, messages=messages, stream=True):
                            pass
                    else:
                        sdk.chat.completions.create(model=model, messages=messages)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    ledger.assert_all_ended_once()
    spans = aigw_telemetry.spans()
    assert len(spans) == ledger.started == 32 * calls
    models = [s.attributes[A.REQUEST_MODEL] for s in spans]
    assert len(set(models)) == 32 * calls  # one span per call
    for span in spans:
        assert span.attributes[A.REQUEST_MODEL].startswith(f"t{span.attributes['app.thread']}-")
