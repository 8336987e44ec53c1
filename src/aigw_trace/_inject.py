"""Putting the call's trace context into one HTTP attempt's headers, without overriding the caller's."""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import Any

from opentelemetry import baggage, propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import (
    DEFAULT_TRACE_STATE,
    INVALID_SPAN,
    INVALID_SPAN_CONTEXT,
    Span,
    SpanContext,
    TraceFlags,
    TraceState,
    set_span_in_context,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ._call import Call
from ._gateway_headers import FLAT_HEADERS, LOWER_KEY, flat_headers

_TRACEPARENT = "traceparent"
_TRACESTATE = "tracestate"
_BAGGAGE_KEY = next(iter(baggage.set_baggage("k", "v", Context())))
"""The context key the API keeps baggage under, read off the API itself rather than imported privately."""
_SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, Context())))

get_global_textmap = propagate.get_global_textmap
_GLOBAL_TEXTMAP = "propagator"
"""The ``opentelemetry.propagate`` module global that ``get_global_textmap()`` returns and ``set_global_textmap()``
replaces: read directly, without the function's frame, while the module has it."""
_propagate: Any = propagate if getattr(propagate, _GLOBAL_TEXTMAP, None) is get_global_textmap() else None
_RAW_NAMES = {_TRACEPARENT: b"traceparent", _TRACESTATE: b"tracestate"}


def _w3c_only(textmap: Any) -> bool:
    """Whether ``textmap`` is the W3C trace-context propagator, or that and W3C baggage in a composite (the default,
    and ``OTEL_PROPAGATORS=tracecontext,baggage``), with exactly the API's classes: then what they would write is
    known, and :func:`inject_headers` writes it without running them. Anything else (B3, Jaeger, a subclass, a
    custom composite) runs through the propagators as configured."""
    kinds = type(textmap)
    if kinds is CompositePropagator:
        propagators = getattr(textmap, "_propagators", None)
        if not isinstance(propagators, (list, tuple)):
            return False
        kinds_in = [type(p) for p in propagators]
        return TraceContextTextMapPropagator in kinds_in and set(kinds_in) <= {
            TraceContextTextMapPropagator,
            W3CBaggagePropagator,
        }
    return kinds is TraceContextTextMapPropagator


def _tuple_layout() -> bool:
    """Whether a ``SpanContext`` unpacks as (trace id, span id, remote, flags, state, valid), as the API builds it:
    reading its fields so costs no property calls; otherwise they are read through the properties."""
    probe = SpanContext(1, 2, False, TraceFlags(1), TraceState([("k", "v")]))
    try:
        return tuple(probe) == (1, 2, False, probe.trace_flags, probe.trace_state, True)
    except Exception:  # pragma: no cover - a future API shape
        return False


_UNPACKS = _tuple_layout()
_checked: tuple[Any, bool] = (None, False)
"""The global textmap last looked at, and whether it is W3C only."""
_span_classes: set[type[Any]] = set()
"""Span classes seen to be API spans, which the trace-context propagator would read (an ``isinstance`` on an ABC
costs a Python call)."""
_SLOW: Any = object()


def _known_span(span: Any) -> bool:
    """Whether the trace-context propagator would take ``span`` for a span (else it injects nothing, and
    ``propagate.inject`` is left to say so); remembered per class, for at most 64 classes."""
    if not isinstance(span, Span) or len(_span_classes) >= 64:
        return False
    _span_classes.add(span.__class__)
    return True


def inject_headers(
    headers: Any, call: Call, session_headers: tuple[str, ...] = (), client: Any = None, options: Any = None
) -> None:
    """Add the call's trace context to one attempt's headers through the global propagators.

    A header the caller set wins: theirs is kept, and a caller's ``traceparent`` also keeps our ``tracestate`` out,
    since the two only make sense together. What the caller set is read from the two small dicts it can come from,
    the client's ``default_headers`` and the call's ``extra_headers`` (``Omit``-ted names included: an omitted
    ``traceparent`` is a request for none), rather than from ``headers``, where every lookup scans and decodes them
    all; only a client that does not keep its default headers where the Stainless template does is checked there.

    With the W3C propagators and no baggage in the context (the usual case) ``traceparent`` (and ``tracestate``) are
    written here as the trace-context propagator writes them, without its dozen Python calls; every other
    configuration goes through ``propagate.inject``. One function: it runs for every HTTP attempt.
    """
    global _checked
    carrier: dict[str, str] = {}
    context = call.inject_context
    textmap = _propagate.propagator if _propagate is not None else get_global_textmap()
    checked = _checked
    if checked[0] is not textmap:
        checked = _checked = (textmap, _w3c_only(textmap))
    span: Any = (
        context.get(_SPAN_KEY) if checked[1] and context is not None and not context.get(_BAGGAGE_KEY) else _SLOW
    )
    if span is _SLOW or (span is not None and span.__class__ not in _span_classes and not _known_span(span)):
        propagate.inject(carrier, context=context)
    elif span is not None:  # no span: the propagator's INVALID_SPAN, which it does not inject
        span_context = span.get_span_context()
        if span_context != INVALID_SPAN_CONTEXT:
            if _UNPACKS:
                trace_id, span_id, _, flags, state, _ = span_context
            else:  # pragma: no cover - a future API shape
                trace_id, span_id = span_context.trace_id, span_context.span_id
                flags, state = span_context.trace_flags, span_context.trace_state
            carrier[_TRACEPARENT] = f"00-{trace_id:032x}-{span_id:016x}-{flags:02x}"
            if state is not DEFAULT_TRACE_STATE and state:
                carrier[_TRACESTATE] = state.to_header()
    if call.session_id is not None:
        for name in session_headers:
            carrier[name] = call.session_id
    custom = getattr(client, "_custom_headers", None)
    taken: Container[str]
    if custom.__class__ is not dict and not isinstance(custom, Mapping):
        taken = headers
    else:
        extra = getattr(options, "headers", None)
        if not custom and not extra:
            flat = FLAT_HEADERS.get(headers.__class__)
            if flat is None:
                flat = flat_headers(headers.__class__)
            if not flat:
                for key, value in carrier.items():
                    headers[key] = value
                return
            # httpx's request headers: what `headers[key] = value` stores, appended without its Python frames (the
            # name is not there yet: the SDK's request has none of ours unless the HTTP client's defaults add one).
            entries = headers._list
            for key, value in carrier.items():
                raw = _RAW_NAMES.get(key)
                if raw is not None and value.isascii() and raw not in map(LOWER_KEY, entries):
                    entries.append((raw, raw, value.encode("ascii")))
                else:
                    headers[key] = value
            return
        taken = {str(name).lower() for name in (*custom, *(extra or ()))}
    if _TRACEPARENT in carrier and _TRACEPARENT in taken:
        carrier.pop(_TRACESTATE, None)
    for key, value in carrier.items():
        if key.lower() not in taken:  # a propagator may name its header in capitals
            headers[key] = value
