"""The stream lifecycle matrix: every streaming call kind, sync and async, by every way a stream can end.

Each case runs twice through real SDK clients, uninstrumented and instrumented, and must show the app the same
items and the same exception class; instrumented, exactly one ``aigw_trace`` span is started, it is ended once (the
``end()`` calls are counted), already when the case returns (only the garbage-collection case collects), with the
case's ``aigw.stream.outcome`` and ``error.type``, and the duration metric is recorded once.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from aigw_trace import _attributes as A
from tests.reliability import bodies
from tests.reliability.conftest import FULL
from tests.reliability.harness import (
    Ledger,
    Script,
    Seen,
    Server,
    client,
    dump,
    duration_count,
    uninstrumented,
)

_USER = [{"role": "user", "content": "hi"}]
_CLAUDE = {"model": "claude-x", "max_tokens": 8, "messages": _USER}


@dataclass(frozen=True)
class Kind:
    name: str
    family: str
    open: Callable[[Any], Any]
    """Start the call: a stream (awaitable on async clients) or, for helpers, a stream manager."""
    helper: bool = False
    raw: Callable[[Any], Any] | None = None
    """The ``with_streaming_response`` form of the call, for the SDK's own ``create``."""

    @property
    def provider(self) -> str:
        return bodies.FAMILIES[self.family].provider

    def frames(self) -> list[bytes]:
        fam = bodies.FAMILIES[self.family]
        assert fam.events is not None
        return bodies.encode_sse(fam, [(e.get("type"), e) for _, e in fam.events(fam.sources)])

    def error_body(self) -> Any:
        if self.provider == "anthropic":
            return {"type": "error", "error": {"type": "api_error", "message": "boom"}}
        return {"error": {"message": "boom", "type": "server_error", "code": None}}


KINDS = [
    Kind("chat.create", "chat", lambda c: c.chat.completions.create(model="gpt-x", messages=_USER, stream=True),
         raw=lambda c: c.chat.completions.with_streaming_response.create(model="gpt-x", messages=_USER, stream=True)),
    Kind("chat.stream", "chat", lambda c: c.chat.completions.stream(model="gpt-x", messages=_USER), helper=True),
    Kind("responses.create", "responses", lambda c: c.responses.create(model="gpt-x", input="hi", stream=True),
         raw=lambda c: c.responses.with_streaming_response.create(model="gpt-x", input="hi", stream=True)),
    Kind("responses.stream", "responses", lambda c: c.responses.stream(model="gpt-x", input="hi"), helper=True),
    Kind("completions.create", "completions",
         lambda c: c.completions.create(model="instruct-x", prompt="hi", stream=True),
         raw=lambda c: c.completions.with_streaming_response.create(model="instruct-x", prompt="hi", stream=True)),
    Kind("messages.create", "messages", lambda c: c.messages.create(**_CLAUDE, stream=True),
         raw=lambda c: c.messages.with_streaming_response.create(**_CLAUDE, stream=True)),
    Kind("messages.stream", "messages", lambda c: c.messages.stream(**_CLAUDE), helper=True),
    Kind("beta.messages.stream", "messages", lambda c: c.beta.messages.stream(**_CLAUDE), helper=True),
]  # fmt: skip


class Boom(Exception):
    """The caller's own bug, raised inside its loop."""


# --- sync/async in one spelling ---


async def _open(kind: Kind, sdk: Any, is_async: bool) -> Any:
    result = kind.open(sdk)
    return await result if is_async and not kind.helper else result


async def _enter(cm: Any, is_async: bool) -> Any:
    return await cm.__aenter__() if is_async else cm.__enter__()


async def _exit(cm: Any, is_async: bool, exc: BaseException | None = None) -> Any:
    args = (type(exc), exc, exc.__traceback__) if exc is not None else (None, None, None)
    return await cm.__aexit__(*args) if is_async else cm.__exit__(*args)


async def _read(stream: Any, is_async: bool, seen: Seen, n: int | None = None) -> None:
    if is_async:
        async for item in stream:
            seen.items.append(dump(item))
            if n is not None and len(seen.items) >= n:
                break
    else:
        for item in stream:
            seen.items.append(dump(item))
            if n is not None and len(seen.items) >= n:
                break


async def _close(stream: Any, is_async: bool) -> None:
    if is_async:
        await stream.close()
    else:
        stream.close()


async def _in_with(kind: Kind, sdk: Any, is_async: bool, body: Callable[[Any], Awaitable[None]]) -> None:
    """``with <call> as stream: body(stream)``: the SDK stream's own ``with``, or the helper's manager."""
    cm = await _open(kind, sdk, is_async)
    stream = await _enter(cm, is_async)
    try:
        await body(stream)
    except BaseException as exc:
        if not await _exit(cm, is_async, exc):
            raise
    else:
        await _exit(cm, is_async)


# --- the ways a stream ends ---


async def read_to_end(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    if kind.helper:
        await _in_with(kind, sdk, is_async, lambda s: _read(s, is_async, seen))
    else:  # no `with`: exhausting the stream alone must end the span
        await _read(await _open(kind, sdk, is_async), is_async, seen)


async def break_then_close(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    async def body(stream: Any) -> None:
        await _read(stream, is_async, seen, 1)
        await _close(stream, is_async)

    if kind.helper:
        await _in_with(kind, sdk, is_async, body)
    else:
        await body(await _open(kind, sdk, is_async))


async def with_early_exit(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    await _in_with(kind, sdk, is_async, lambda s: _read(s, is_async, seen, 1))


async def raise_in_loop(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    async def body(stream: Any) -> None:
        await _read(stream, is_async, seen, 1)
        raise Boom("the caller's bug")

    await _in_with(kind, sdk, is_async, body)


async def task_cancelled(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    reading = asyncio.Event()

    async def consume() -> None:
        async def body(stream: Any) -> None:
            async for item in stream:
                seen.items.append(dump(item))
                reading.set()  # the next read waits on a server that never sends

        await _in_with(kind, sdk, is_async, body)

    task = asyncio.ensure_future(consume())
    await reading.wait()
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait([task])
    seen.error = "CancelledError" if task.cancelled() else repr(task.exception())


async def garbage_collected(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    cm = await _open(kind, sdk, is_async)
    stream = await _enter(cm, is_async) if kind.helper else cm
    await _read(stream, is_async, seen, 1)
    del cm, stream
    gc.collect()
    for _ in range(5):  # the loop finalises dropped async generators over a few ticks
        await asyncio.sleep(0)
    gc.collect()  # and what those finalisers released


async def streaming_response_partly_read(kind: Kind, sdk: Any, is_async: bool, seen: Seen) -> None:
    assert kind.raw is not None
    if is_async:
        async with kind.raw(sdk) as response:
            async for line in response.iter_lines():
                seen.items.append(line)
                break
    else:
        with kind.raw(sdk) as response:
            for line in response.iter_lines():
                seen.items.append(line)
                break


@dataclass(frozen=True)
class Case:
    name: str
    run: Callable[[Kind, Any, bool, Seen], Awaitable[None]]
    outcome: str
    error_type: str | None = None
    """``error.type`` on the span: a class name, ``"seen"`` (the class the app got), or None (not set)."""
    script: Callable[[Kind], list[Script]] = lambda k: [Script(chunks=k.frames())]
    retries: int = 0
    only_async: bool = False
    needs_raw: bool = False


CASES = [
    Case("read_to_end", read_to_end, "completed"),
    Case("break_then_close", break_then_close, "closed"),
    Case("with_early_exit", with_early_exit, "closed"),
    Case("raise_in_loop", raise_in_loop, "closed"),
    Case("task_cancelled", task_cancelled, "cancelled", only_async=True,
         script=lambda k: [Script(chunks=k.frames(), fault="hang", after=2)]),
    Case("garbage_collected", garbage_collected, "abandoned"),
    Case("streaming_response_partly_read", streaming_response_partly_read, "closed", needs_raw=True),
    Case("server_cuts_stream", read_to_end, "error", "seen",
         script=lambda k: [Script(chunks=k.frames(), fault="cut", after=2)]),
    Case("error_before_first_byte", read_to_end, "error", "InternalServerError",
         script=lambda k: [Script.json(k.error_body(), 500)]),
    Case("read_timeout_mid_stream", read_to_end, "error", "seen",
         script=lambda k: [Script(chunks=k.frames(), fault="timeout", after=2)]),
    Case("retry_after_5xx", read_to_end, "completed", retries=1,
         script=lambda k: [Script.json(k.error_body(), 503, **{"retry-after-ms": "1"}), Script(chunks=k.frames())]),
]  # fmt: skip

FAST_KINDS = ("chat.create", "messages.stream")
"""The README suite's share of the matrix (one SDK stream and one helper, both providers, garbage collection left
to the bug tests below and the existing stream tests); all of it in the reliability session."""

MATRIX = [
    pytest.param(kind, case, is_async, id=f"{kind.name}-{'async' if is_async else 'sync'}-{case.name}")
    for kind in KINDS
    for is_async in (False, True)
    for case in CASES
    if (is_async or not case.only_async) and (kind.raw is not None or not case.needs_raw)
    if FULL or (kind.name in FAST_KINDS and case.name != "garbage_collected")  # full collections are slow
]


async def _run(kind: Kind, case: Case, is_async: bool) -> tuple[Seen, Server]:
    server = Server().reply(*case.script(kind))
    sdk = client(server, kind.provider, is_async, max_retries=case.retries)
    seen = Seen()
    try:
        await case.run(kind, sdk, is_async, seen)
    except Exception as exc:
        seen.error = type(exc).__qualname__
    return seen, server


@pytest.mark.parametrize(("kind", "case", "is_async"), MATRIX)
async def test_stream_ends_once_with_its_outcome(aigw_telemetry, ledger: Ledger, kind, case, is_async):
    with uninstrumented(aigw_telemetry):
        plain, plain_server = await _run(kind, case, is_async)
    ledger.clear()
    traced, server = await _run(kind, case, is_async)
    # A dropped async stream's body closes some loop ticks after the case returns, so the uninstrumented run's has
    # closed by now and this one's not yet: compared where both are looked at alike, in
    # test_a_dropped_async_stream_releases_its_http_body_as_uninstrumented.
    if not (is_async and case.name == "garbage_collected"):
        assert (server.opened, server.closed) == (plain_server.opened, plain_server.closed), "HTTP bodies left open"

    assert traced == plain
    assert not ledger.open(), "the span is still open when the caller is done with the stream"
    span = ledger.assert_one_span_ended_once()
    attrs = span.attributes
    if case.name == "garbage_collected":
        # Which finaliser runs first inside a collected cycle, the stream's generator (closed) or the HTTP body's
        # (abandoned), is the collector's choice; ending once, at collection, is what matters here. See
        # test_bug_garbage_collected_openai_stream_ended_closed.
        assert attrs[A.AIGW_STREAM_OUTCOME] in ("abandoned", "closed")
    else:
        assert attrs[A.AIGW_STREAM_OUTCOME] == case.outcome
    expected_error = traced.error if case.error_type == "seen" else case.error_type
    assert attrs.get(A.ERROR_TYPE) == expected_error
    assert duration_count(aigw_telemetry) == 1
    assert len(server.requests) == 1 + case.retries


@pytest.mark.parametrize(
    "kind",
    # Full collections are slow: the fast suite takes one stream of each shape (openai's, anthropic's made on first
    # use, a helper's).
    [k for k in KINDS if FULL or k.name in ("chat.create", "messages.create", "messages.stream")],
    ids=lambda k: k.name,
)
async def test_a_dropped_async_stream_releases_its_http_body_as_uninstrumented(aigw_telemetry, ledger, kind):
    """Read in part and dropped: the body is closed after the same collection and loop ticks as without
    aigw-trace (each run is looked at as it returns, before the next one gives the loop more ticks)."""
    case = next(c for c in CASES if c.name == "garbage_collected")
    with uninstrumented(aigw_telemetry):
        _, plain = await _run(kind, case, is_async=True)
        plain_bodies = (plain.opened, plain.closed)
    _, traced = await _run(kind, case, is_async=True)
    assert (traced.opened, traced.closed) == plain_bodies
    assert ledger.assert_one_span_ended_once().attributes[A.AIGW_STREAM_OUTCOME] in ("abandoned", "closed")


# --- known bugs, pinned until fixed ---


async def test_bug_garbage_collected_openai_stream_ended_closed(aigw_telemetry, ledger):
    case = next(c for c in CASES if c.name == "garbage_collected")
    await _run(KINDS[0], case, is_async=False)
    assert ledger.assert_one_span_ended_once().attributes[A.AIGW_STREAM_OUTCOME] == "abandoned"
