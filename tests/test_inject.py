"""Injection writes exactly what the configured propagators write, whether or not it runs them.

With the W3C propagators and no baggage, ``inject_headers`` writes ``traceparent``/``tracestate`` itself; these
tests compare its headers with those of the same call forced through ``propagate.inject``, for every kind of span a
context can hold and every W3C-looking propagator configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import INVALID_SPAN, NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from aigw_trace import _inject
from tests.conftest import Reply
from tests.test_wrap import call, completion

_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C


class _FakeCall:
    """What ``inject_headers`` reads of a call."""

    session_id = None

    def __init__(self, inject_context: Any) -> None:
        self.inject_context = inject_context


class _NotASpan:
    def get_span_context(self) -> SpanContext:
        return SpanContext(_TRACE_ID, 0x1, is_remote=False, trace_flags=TraceFlags(1))


def _recording() -> Any:
    return TracerProvider().get_tracer("t").start_span("s")


def _remote(flags: int, state: TraceState | None = None) -> Any:
    return NonRecordingSpan(SpanContext(_TRACE_ID, 0xB7AD6B7169203331, True, TraceFlags(flags), state))


CONTEXTS: dict[str, Callable[[], Any]] = {
    "recording span": lambda: trace.set_span_in_context(_recording()),
    "with tracestate": lambda: trace.set_span_in_context(_remote(1, TraceState([("vendor", "v1"), ("b", "2")]))),
    "unsampled": lambda: trace.set_span_in_context(_remote(0)),
    "empty tracestate object": lambda: trace.set_span_in_context(_remote(1, TraceState())),
    "invalid span": lambda: trace.set_span_in_context(INVALID_SPAN),
    "no span": lambda: context.Context(),
    "not a span": lambda: trace.set_span_in_context(_NotASpan()),  # type: ignore[arg-type]
    "baggage": lambda: baggage.set_baggage("session.id", "s-1", trace.set_span_in_context(_recording())),
    "empty baggage": lambda: context.set_value(_inject._BAGGAGE_KEY, {}, trace.set_span_in_context(_remote(1))),
}
TEXTMAPS: dict[str, Callable[[], Any]] = {
    "default": lambda: CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]),
    "baggage first": lambda: CompositePropagator([W3CBaggagePropagator(), TraceContextTextMapPropagator()]),
    "tracecontext alone": TraceContextTextMapPropagator,
    "baggage alone": W3CBaggagePropagator,
    "composite of baggage alone": lambda: CompositePropagator([W3CBaggagePropagator()]),
}


def _inject_into(call: _FakeCall, force_propagators: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    headers = httpx2.Headers({"content-type": "application/json"})
    with monkeypatch.context() as patched:
        patched.setattr(_inject, "_checked", (None, False))
        if force_propagators:
            patched.setattr(_inject, "_w3c_only", lambda textmap: False)
        client = type("Client", (), {"_custom_headers": {}})()
        _inject.inject_headers(headers, call, (), client, None)  # type: ignore[arg-type]
    return headers.multi_items()


@pytest.mark.parametrize("textmap", list(TEXTMAPS))
@pytest.mark.parametrize("ctx", list(CONTEXTS))
def test_headers_match_the_propagators_own(ctx: str, textmap: str, monkeypatch: pytest.MonkeyPatch) -> None:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(TEXTMAPS[textmap]())
    try:
        call_ = _FakeCall(CONTEXTS[ctx]())
        written = _inject_into(call_, False, monkeypatch)
        expected = _inject_into(call_, True, monkeypatch)
    finally:
        propagate.set_global_textmap(previous)
    assert written == expected
    # and the comparison is not between two empty lists where the propagators do write something
    reference: dict[str, str] = {}
    TEXTMAPS[textmap]().inject(reference, context=call_.inject_context)
    assert [k for k, _ in written if k != "content-type"] == list(reference)


def test_only_the_w3c_classes_themselves_are_written_directly() -> None:
    class Subclass(TraceContextTextMapPropagator):
        pass

    assert _inject._w3c_only(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    assert _inject._w3c_only(TraceContextTextMapPropagator())
    assert not _inject._w3c_only(Subclass())
    assert not _inject._w3c_only(CompositePropagator([Subclass(), W3CBaggagePropagator()]))
    assert not _inject._w3c_only(CompositePropagator([W3CBaggagePropagator()]))
    assert not _inject._w3c_only(W3CBaggagePropagator())


def test_a_call_sends_its_parents_tracestate(aigw_telemetry: Any, fake_api: Any, openai_client: Any) -> None:
    fake_api.reply(Reply(json=completion()))
    state = TraceState([("vendor", "v1")])
    with trace.use_span(_remote(1, state)):
        call(openai_client())
    headers = fake_api.headers[0]
    span = aigw_telemetry.span()
    assert headers["traceparent"] == f"00-{_TRACE_ID:032x}-{span.context.span_id:016x}-01"
    assert headers["tracestate"] == "vendor=v1"
