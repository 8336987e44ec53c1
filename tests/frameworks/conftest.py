"""Harness for the framework suite (``nox -s frameworks``, docs/frameworks.md).

The case files are named ``fw_*.py`` so the README suite (``nox -s tests``) never collects them: the nox session
passes each one by path, in a venv holding that framework's pins. This conftest is imported by the README suite too,
so it imports nothing beyond what that suite has.

Each case runs the same framework call twice against one loopback gateway: first with aigw-trace uninstrumented
(the baseline), then instrumented inside an app span. :meth:`Harness.check` compares the two and asserts the joins.
Known gaps (issue 20 items 2 and 3) raise :class:`KnownGap`, which the cases that expect them mark
``xfail(raises=KnownGap, strict=False)``: any other failure in such a case still fails it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import re
import socket
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

OFFLINE = os.environ.get("AIGW_FRAMEWORKS_OFFLINE") == "1"
TRACING_SCOPE = "aigw_trace"
ITEM2 = (
    "issue 20 item 2: a framework's own GenAI metrics that aigw-trace cannot foresee (litellm's otel callback passed "
    "per call as success_callback) count the tokens under two scopes"
)
ITEM3 = "issue 20 item 3: the framework streams without stream_options.include_usage, so the stream has no usage"
STREAM_USAGE = {"stream_usage": True}
"""aigw-trace's option asking every OpenAI chat/completion stream for usage (issue 20 item 3; docs/configuration.md)."""

# --- offline guard: every connection and name lookup must stay on this machine ------------------------------------

LOCAL = {"127.0.0.1", "localhost", "::1"}
escapes: list[str] = []
"""Every non-local connection or lookup attempted during the run (refused with OSError)."""


def _host(address: Any) -> str | None:
    if isinstance(address, tuple) and address and isinstance(address[0], str):
        return address[0]
    return None  # a unix socket path


def _install_guard() -> None:
    real_connect, real_connect_ex, real_getaddrinfo = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.getaddrinfo,
    )

    def connect(self: socket.socket, address: Any) -> None:
        host = _host(address)
        if host is not None and host not in LOCAL:
            escapes.append(f"connect {address!r}")
            raise OSError(f"frameworks suite is offline: connect to {address!r} refused")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        host = _host(address)
        if host is not None and host not in LOCAL:
            escapes.append(f"connect_ex {address!r}")
            return 111
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOCAL:
            escapes.append(f"getaddrinfo {name!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"frameworks suite is offline: lookup of {name!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


if OFFLINE:
    # At conftest import, before any case file imports its framework: some try the network at import time.
    _install_guard()


# --- what a run saw ----------------------------------------------------------------------------------------------


class KnownGap(AssertionError):
    """A failed check that issue 20 (items 2, 3) records as a known gap of today's aigw-trace."""


@dataclass
class Outcome:
    value: Any = None
    error: tuple[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)


class _Logs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Framework DEBUG/INFO chatter carries ids and timings; what a user would see is WARNING and up. Anything
        # aigw-trace logs at all is new by definition.
        if record.levelno >= logging.WARNING or record.name.startswith(TRACING_SCOPE):
            self.lines.append(_ADDRESSES.sub("#", f"{record.levelname} {record.name}: {record.getMessage()}"))


_ADDRESSES = re.compile(r"0x[0-9a-f]+|Task-\d+|fd=\d+|:\d{4,5}\b")
"""Object addresses, task numbers, descriptors and ports differ from run to run in otherwise equal lines."""


class _Capture:
    def __enter__(self) -> _Capture:
        gc.collect()  # the previous run's garbage (unclosed clients) is finalised in its own capture, not this one
        self.outcome = Outcome()
        self._warnings = warnings.catch_warnings(record=True)
        self._seen = self._warnings.__enter__()
        warnings.simplefilter("always")
        self._handler = _Logs()
        self._root = logging.getLogger()
        self._level = self._root.level
        self._root.addHandler(self._handler)
        self._root.setLevel(logging.DEBUG)
        logging.getLogger(TRACING_SCOPE).setLevel(logging.DEBUG)
        return self

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        gc.collect()
        self._root.removeHandler(self._handler)
        self._root.setLevel(self._level)
        self._warnings.__exit__(None, None, None)
        # ResourceWarnings (unclosed sockets, async generators finalised after their loop) come from garbage
        # collection of clients the frameworks never close: when they fire depends on the collector, not on the call.
        self.outcome.warnings = [
            f"{w.category.__name__}: {w.message}" for w in self._seen if not issubclass(w.category, ResourceWarning)
        ]
        self.outcome.logs = self._handler.lines
        if isinstance(exc, Exception):
            self.outcome.error = (type(exc).__qualname__, str(exc))
            return True
        return False


class _SpanTracker:
    """A span processor counting starts and ends per span, to prove every span ends exactly once."""

    def __init__(self) -> None:
        self.started: dict[int, str] = {}
        self.ended: Counter[int] = Counter()

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started[span.context.span_id] = span.name

    def on_end(self, span: Any) -> None:
        self.ended[span.context.span_id] += 1

    def _on_ending(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True

    def problems(self) -> list[str]:
        out = [f"{name!r} never ended" for sid, name in self.started.items() if self.ended[sid] == 0]
        out += [f"{self.started.get(sid, sid)!r} ended {n} times" for sid, n in self.ended.items() if n != 1]
        return out


# --- the harness -------------------------------------------------------------------------------------------------


@dataclass
class Traced:
    """What the instrumented run left, for a case's own extra assertions."""

    outcome: Outcome
    spans: list[Any]
    requests: list[Any]
    app_span: Any
    input_tokens: dict[str, float] = field(default_factory=dict)
    """``gen_ai.client.token.usage`` input tokens the traced run added, per instrumentation scope (non-zero only)."""


class Harness:
    def __init__(self, telemetry: Any, gateway: Any) -> None:
        self.telemetry = telemetry
        self.gateway = gateway
        self.tracker = _SpanTracker()
        telemetry.tracer_provider.add_span_processor(self.tracker)
        self.clients: list[Any] = []

    def own(self, client: Any) -> Any:
        """Close ``client`` (an SDK client) when the case ends. Left to the garbage collector, an async client
        schedules its close on whichever loop runs then and logs "Task exception was never retrieved" in a later
        case."""
        self.clients.append(client)
        return client

    def close_clients(self) -> None:
        while self.clients:
            client = self.clients.pop()
            try:
                result = client.close()
                if inspect.isawaitable(result):
                    asyncio.run(result)
            except RuntimeError:  # its connections belonged to a loop already closed (a sync facade's own loop)
                pass

    # Runs ----------------------------------------------------------------------------------------------------

    def _baseline_off(self) -> None:
        import aigw_trace

        if aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry:
            aigw_trace.uninstrument()

    def check(self, call: Callable[[], Any], *, options: dict[str, Any] | None = None, **expect: Any) -> Traced:
        """Run ``call`` uninstrumented, then instrumented (with ``options``) in an app span; assert it all (see
        :meth:`_verify`)."""
        self._baseline_off()
        self._warm_up(call)
        with _Capture() as base:
            base.outcome.value = call()
        self.telemetry.instrument(**(options or {}))
        before = self._mark()
        with _Capture() as traced, self._app_span() as app:
            traced.outcome.value = call()
        return self._verify(base.outcome, traced.outcome, app, before, **expect)

    async def acheck(self, call: Callable[[], Any], *, options: dict[str, Any] | None = None, **expect: Any) -> Traced:
        self._baseline_off()
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            await call()  # warm-up: see _warm_up
        with _Capture() as base:
            base.outcome.value = await call()
        self.telemetry.instrument(**(options or {}))
        before = self._mark()
        with _Capture() as traced, self._app_span() as app:
            traced.outcome.value = await call()
        return self._verify(base.outcome, traced.outcome, app, before, **expect)

    @staticmethod
    def _warm_up(call: Callable[[], Any]) -> None:
        """One untraced run first: frameworks import lazily and warn once on first use (litellm's pydantic
        ``ReadOnly`` warnings), which would otherwise show up only in the baseline."""
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()

    def _app_span(self) -> Any:
        return self.telemetry.tracer_provider.get_tracer("app").start_as_current_span("app")

    def _mark(self) -> tuple[int, int, dict[tuple[str, str], float]]:
        return len(self.telemetry.spans()), len(self.gateway.requests), self.token_sums()

    def token_sums(self) -> dict[tuple[str, str], float]:
        """``gen_ai.client.token.usage`` summed per (instrumentation scope, token type), over every scope."""
        sums: dict[tuple[str, str], float] = {}
        data = self.telemetry.metric_reader.get_metrics_data()
        for rm in data.resource_metrics if data else ():
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name != "gen_ai.client.token.usage":
                        continue
                    for point in metric.data.data_points:
                        key = (sm.scope.name, str(point.attributes.get("gen_ai.token.type")))
                        sums[key] = sums.get(key, 0) + point.sum
        return sums

    # Checks --------------------------------------------------------------------------------------------------

    def _verify(
        self,
        base: Outcome,
        traced: Outcome,
        app: Any,
        before: tuple[int, int, dict[tuple[str, str], float]],
        *,
        error: bool = False,
        usage: bool = True,
        counted_once: bool = True,
    ) -> Traced:
        """Hard checks first (any failure fails the case), then the known-gap checks (raise :class:`KnownGap`).

        ``error``: the call is expected to raise (both runs, the same exception). ``usage``: the gateway's answers
        carry usage the framework reads (False for a stream the framework did not ask usage for). ``counted_once``:
        False when the case itself asserts tokens counted under several scopes (an option that asks for it).
        """
        spans_before, requests_before, tokens_before = before
        assert (traced.value, traced.error) == (base.value, base.error), "the framework's result or error changed"
        assert (base.error is not None) == error, f"unexpected outcome: {base.error or base.value!r}"
        assert traced.warnings == base.warnings, f"warnings changed: {base.warnings} -> {traced.warnings}"
        assert traced.logs == base.logs, f"log lines changed: {base.logs} -> {traced.logs}"
        assert not self.tracker.problems(), self.tracker.problems()

        spans = self.telemetry.spans()[spans_before:]
        requests = self.gateway.requests[requests_before:]
        assert requests, "no request reached the gateway"
        app_trace = format(app.get_span_context().trace_id, "032x")
        # GenAI client spans: CLIENT kind with gen_ai.operation.name (litellm's otel callback also writes
        # gen_ai.operation.name onto the caller's own INTERNAL span, which is not a second client span).
        genai = {
            format(s.context.span_id, "016x"): s
            for s in spans
            if s.kind is SpanKind.CLIENT and "gen_ai.operation.name" in (s.attributes or {})
        }
        ours = [s for s in genai.values() if s.instrumentation_scope.name == TRACING_SCOPE]
        assert ours, "no aigw-trace GenAI span"
        for r in requests:
            assert r.trace_id == app_trace, f"{r.path}: traceparent {r.traceparent!r} not in the app's trace"
            parent = genai.get(r.parent_span_id)
            assert parent is not None, f"{r.path}: traceparent parent {r.parent_span_id} is not a GenAI client span"
        # Every one of aigw-trace's spans is the parent of a gateway request (the call really went out through it).
        parents = {r.parent_span_id for r in requests}
        for s in ours:
            sid = format(s.context.span_id, "016x")
            assert sid in parents or any(
                p in genai and genai[p].parent is not None and genai[p].parent.span_id == s.context.span_id
                for p in parents
            ), f"{s.name}: no gateway request under it"

        if os.environ.get("AIGW_FRAMEWORKS_TREES"):
            print(_tree(spans, app.get_span_context().trace_id))

        gaps: list[str] = []
        counted: dict[str, float] = {}
        if not error:
            # Usage on every aigw-trace span, and counted once in the token metric across all scopes.
            for s in ours:
                if "gen_ai.usage.input_tokens" not in s.attributes or "gen_ai.usage.output_tokens" not in s.attributes:
                    gaps.append(f"{s.name}: no token usage on the span (issue 20 item 3)")
            # A framework's own GenAI client span around the call is expected (aigw-trace keeps its own span, the
            # one the gateway joins, as its child, and leaves the metrics to it): it must enclose one of ours.
            for other in genai.values():
                if other.instrumentation_scope.name != TRACING_SCOPE:
                    assert any(s.parent is not None and s.parent.span_id == other.context.span_id for s in ours), (
                        f"{other.name} ({other.instrumentation_scope.name}): a GenAI client span with no aigw-trace "
                        "span under it"
                    )
            after = self.token_sums()
            inputs = {
                scope: after.get((scope, "input"), 0) - tokens_before.get((scope, "input"), 0)
                for scope, kind in after
                if kind == "input"
            }
            counted = {scope: n for scope, n in inputs.items() if n}
            if len(counted) > 1 and counted_once:
                gaps.append(f"input tokens recorded under several scopes {counted} (issue 20 item 2)")
            if usage and not counted:
                gaps.append("no gen_ai.client.token.usage recorded (issue 20 item 3)")
        if gaps:
            raise KnownGap("; ".join(gaps))
        return Traced(traced, spans, requests, app, counted)


def asked_for_usage(traced: Traced) -> bool:
    """Whether every streamed request of the traced run carried ``stream_options.include_usage``."""
    streams = [r for r in traced.requests if r.stream]
    assert streams, "no streamed request reached the gateway"
    return all((r.json.get("stream_options") or {}).get("include_usage") is True for r in streams)


def counted_once_as_on_the_span(traced: Traced) -> None:
    """The token metric counted the input tokens once, under aigw-trace's scope, as many as its spans carry."""
    on_spans = sum(
        s.attributes["gen_ai.usage.input_tokens"]
        for s in traced.spans
        if s.instrumentation_scope.name == TRACING_SCOPE and "gen_ai.usage.input_tokens" in (s.attributes or {})
    )
    assert on_spans, "no token usage on aigw-trace's spans"
    assert traced.input_tokens == {TRACING_SCOPE: on_spans}


def _tree(spans: list[Any], trace_id: int) -> str:
    """The traced run's spans in the app's trace as an indented tree (``AIGW_FRAMEWORKS_TREES=1``, with ``-s``)."""
    mine = [s for s in spans if s.context.trace_id == trace_id]
    ids = {s.context.span_id for s in mine}
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for s in sorted(mine, key=lambda s: s.start_time or 0):
            if (s.parent.span_id if s.parent and s.parent.span_id in ids else None) == parent:
                lines.append(f"{'  ' * depth}{s.name} [{s.kind.name}, {s.instrumentation_scope.name}]")
                walk(s.context.span_id, depth + 1)

    walk(None, 1)
    return "\n".join(lines)


@pytest.fixture
def fw(aigw_telemetry: Any, aigw_gateway: Any) -> Iterator[Harness]:
    """The harness, on the ``aigw_telemetry`` providers and the ``aigw_gateway`` loopback server."""
    harness = Harness(aigw_telemetry, aigw_gateway)
    yield harness
    harness.close_clients()
    assert not escapes, f"a connection left 127.0.0.1: {escapes}"


def gap(reason: str) -> pytest.MarkDecorator:
    """The mark of a case that hits a known gap: only :class:`KnownGap` makes it xfail."""
    return pytest.mark.xfail(raises=KnownGap, strict=False, reason=reason)


# --- the results table -------------------------------------------------------------------------------------------

_results: list[tuple[str, str, str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "/frameworks/fw_" not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "call" or report.outcome == "failed":
        if hasattr(report, "wasxfail"):
            outcome = "xfail" if report.skipped else "xpass"
        else:
            outcome = {"passed": "pass", "failed": "FAIL", "skipped": "skip"}[report.outcome]
        if report.when != "call":
            outcome = f"{outcome} ({report.when})"
        crash = getattr(report.longrepr, "reprcrash", None)
        detail = (
            crash.message.splitlines()[0].removeprefix("tests.frameworks.conftest.")[:300]
            if crash is not None and outcome != "pass"
            else ""
        )
        module, _, case = report.nodeid.rpartition("::")
        name = module.rsplit("/", 1)[-1].removeprefix("fw_").removesuffix(".py")
        _results.append((name, case.removeprefix("test_"), outcome, detail.replace("|", "/")))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _results:
        return
    write = terminalreporter.write_line
    write("")
    write("| framework | case | result | what failed (xfail: the known gap met) |")
    write("|---|---|---|---|")
    for row in _results:
        write("| " + " | ".join(row) + " |")
    write(f"offline guard: {len(escapes)} connection(s) or lookup(s) beyond 127.0.0.1 refused {escapes or ''}")
