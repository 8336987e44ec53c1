"""What the reliability tests share: a scripted server behind ``httpx2.MockTransport``, real SDK clients on it,
a ledger of span starts and ``end()`` calls, and a way to run the same code instrumented and not."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx2
import openai
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

import aigw_trace
from aigw_trace import _attributes as A

SCOPE = "aigw_trace"


# --- the server ---


@dataclass
class Script:
    """One reply: a status and a body, optionally streamed and broken after ``after`` chunks."""

    status: int = 200
    chunks: list[bytes] = field(default_factory=list)
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    """``cut`` (connection lost), ``timeout`` (read timeout) or ``hang`` (async: wait forever) after ``after``."""
    after: int = 1

    @classmethod
    def json(cls, body: Any, status: int = 200, **headers: str) -> Script:
        return cls(status, [json.dumps(body).encode()], "application/json", dict(headers))


class _Body(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    def __init__(self, script: Script, server: Server) -> None:
        self._script = script
        self._server = server
        server.opened += 1

    def _fault(self, i: int) -> None:
        s = self._script
        if s.fault is not None and i == s.after:
            if s.fault == "cut":
                raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")
            if s.fault == "timeout":
                raise httpx2.ReadTimeout("timed out")

    def __iter__(self) -> Iterator[bytes]:
        for i, chunk in enumerate(self._script.chunks):
            self._fault(i)
            yield chunk
        self._fault(len(self._script.chunks))

    async def __aiter__(self) -> Any:
        for i, chunk in enumerate(self._script.chunks):
            if self._script.fault == "hang" and i == self._script.after:
                await asyncio.Event().wait()
            self._fault(i)
            await asyncio.sleep(0)
            yield chunk
        self._fault(len(self._script.chunks))

    def close(self) -> None:
        self._server.closed += 1

    async def aclose(self) -> None:
        self.close()


@dataclass
class Server:
    """Answers from a queue of scripts (the last one repeats) and records the requests it got."""

    scripts: list[Script] = field(default_factory=list)
    requests: list[httpx2.Request] = field(default_factory=list)
    opened: int = 0
    closed: int = 0

    def reply(self, *scripts: Script) -> Server:
        self.scripts = list(scripts)
        return self

    def _respond(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        script = self.scripts.pop(0) if len(self.scripts) > 1 else self.scripts[0]
        headers = {"content-type": script.content_type, **script.headers}
        return httpx2.Response(script.status, headers=headers, stream=_Body(script, self))

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        return self._respond(request)

    async def async_handler(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        return self._respond(request)


def client(server: Server, provider: str, is_async: bool, **kwargs: Any) -> Any:
    """A real SDK client whose HTTP goes to ``server``."""
    kwargs.setdefault("max_retries", 0)
    if is_async:
        http: Any = httpx2.AsyncClient(transport=httpx2.MockTransport(server.async_handler))
    else:
        http = httpx2.Client(transport=httpx2.MockTransport(server.handler))
    if provider == "openai":
        kwargs.setdefault("api_key", "sk-test")
        kwargs.setdefault("base_url", "http://gateway.test/v1")
        cls: Any = openai.AsyncOpenAI if is_async else openai.OpenAI
    else:
        kwargs.setdefault("api_key", "sk-ant-test")
        kwargs.setdefault("base_url", "http://gateway.test")
        kwargs.setdefault("open_telemetry", False)
        cls = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    return cls(http_client=http, **kwargs)


# --- the span ledger ---


class Ledger(SpanProcessor):
    """Counts, per span of the ``aigw_trace`` scope, starts and ``end()`` calls (a second ``end()`` is a no-op the
    SDK only warns about, so ``on_end`` alone cannot see it). The count rides on the span object itself, so a soak's
    ledger holds only the open spans' ids."""

    def __init__(self) -> None:
        self.started = 0
        self.live: set[int] = set()
        """Started and not ended yet."""
        self.double: list[int] = []
        self.finished: list[ReadableSpan] = []
        self.outcomes: Counter[Any] = Counter()
        self.keep = True
        """False (soaks): keep no finished spans, only their outcomes."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == SCOPE:
            self.started += 1
            self.live.add(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        if span.instrumentation_scope is not None and span.instrumentation_scope.name == SCOPE:
            self.outcomes[(span.attributes or {}).get(A.AIGW_STREAM_OUTCOME)] += 1
            if self.keep:
                self.finished.append(span)

    def count_end(self, span: Any) -> None:
        if span.instrumentation_scope is None or span.instrumentation_scope.name != SCOPE:
            return
        ends = span.__dict__.get("_ledger_ends", 0) + 1
        span.__dict__["_ledger_ends"] = ends
        self.live.discard(span.context.span_id)
        if ends > 1:
            self.double.append(span.context.span_id)

    def open(self) -> list[int]:
        return sorted(self.live)

    def clear(self) -> None:
        self.started = 0
        self.live.clear()
        self.double.clear()
        self.finished.clear()
        self.outcomes.clear()

    def assert_one_span_ended_once(self) -> ReadableSpan:
        assert self.started == 1, f"{self.started} aigw_trace spans started"
        assert not self.live, "a span was left open"
        assert not self.double, "a span was ended more than once"
        assert len(self.finished) == 1
        return self.finished[0]

    def assert_all_ended_once(self) -> None:
        assert not self.live, f"{len(self.live)} of {self.started} spans left open"
        assert not self.double, f"{len(self.double)} spans ended more than once"


@contextlib.contextmanager
def counting_ends(ledger: Ledger) -> Iterator[None]:
    """Count every ``Span.end`` call into ``ledger`` while the block runs."""
    original = Span.end

    def end(self: Span, end_time: int | None = None) -> None:
        ledger.count_end(self)
        original(self, end_time)

    Span.end = end  # type: ignore[method-assign]
    try:
        yield
    finally:
        Span.end = original  # type: ignore[method-assign]


@contextlib.contextmanager
def uninstrumented(telemetry: Any) -> Iterator[None]:
    """Run the block without aigw-trace, then instrument again with the same options."""
    aigw_trace.uninstrument()
    try:
        yield
    finally:
        telemetry.instrument(**telemetry._options)


def duration_count(telemetry: Any) -> int:
    return sum(p.count for p in telemetry.metric_points(A.METRIC_OPERATION_DURATION))


# --- what the app sees ---


def dump(item: Any) -> Any:
    """A comparable picture of an SDK object (or a raw line)."""
    if hasattr(item, "model_dump"):
        try:
            return item.model_dump(warnings=False)
        except Exception:
            return repr(item)
    return item


@dataclass
class Seen:
    """What the application observed: the items or value it got and the exception class it got, if any."""

    items: list[Any] = field(default_factory=list)
    error: str | None = None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Seen) and _same(self.items, other.items) and self.error == other.error


def _same(a: Any, b: Any) -> bool:
    # NaN-free by construction; repr comparison keeps -0.0 == 0.0 from hiding a change of type
    return repr(a) == repr(b)


class LogKinds(logging.Handler):
    """Records of the ``aigw_trace`` logger, by message template (a failure kind is where and exception type)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def kinds(self) -> Counter[tuple[str, str]]:
        return Counter(
            (r.getMessage(), type(r.exc_info[1]).__qualname__ if r.exc_info and r.exc_info[1] else "")
            for r in self.records
        )


@contextlib.contextmanager
def capture_library_logs() -> Iterator[LogKinds]:
    from aigw_trace import _safety

    handler = LogKinds()
    logger = logging.getLogger("aigw_trace")
    logger.addHandler(handler)
    seen = set(_safety._seen)
    _safety._seen.clear()  # so each failure kind is logged (once) inside the block
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        _safety._seen.update(seen)


# --- one call per endpoint family ---

_USER = [{"role": "user", "content": "hi"}]


def call_family(family: str, sdk: Any, stream: bool) -> Any:
    """Make ``family``'s call on a sync client (the SDK's return value, not yet read)."""
    if family == "chat":
        return sdk.chat.completions.create(model="gpt-x", messages=_USER, stream=stream)
    if family == "completions":
        return sdk.completions.create(model="instruct-x", prompt="hi", stream=stream)
    if family == "responses":
        return sdk.responses.create(model="gpt-x", input="hi", stream=stream)
    if family == "embeddings":
        return sdk.embeddings.create(model="embed-x", input="hi")
    return sdk.messages.create(model="claude-x", max_tokens=8, messages=_USER, stream=stream)


def observe(family: str, sdk: Any, stream: bool) -> Seen:
    """Make the call and read it to the end the way an app would; what it saw."""
    seen = Seen()
    try:
        result = call_family(family, sdk, stream)
        if stream:
            with result:
                for item in result:
                    seen.items.append(dump(item))
        else:
            seen.items.append(dump(result))
    except Exception as exc:
        seen.error = type(exc).__qualname__
    return seen
