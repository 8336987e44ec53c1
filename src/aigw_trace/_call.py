"""One *call*: a single SDK method invocation as the caller sees it — retries and stream reading included.

A :class:`Call` owns one CLIENT span and ends it exactly once, whichever path gets there first: the response
returning, an exception, the stream being exhausted, closed early or garbage-collected. At that single end it
reads the response (or the stream's summary) through the endpoint's tables, sets the span's attributes and status,
and records the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar, Token
from time import perf_counter
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context, create_key, get_current
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from . import _attributes as A
from ._gateway_headers import FLAT_HEADERS, LOWER_KEY, TRACERESPONSE, read_response_headers
from ._metrics import MetricAttributes
from ._providers._spec import Endpoint, StreamAccumulator
from ._providers._values import as_int, as_str, dig, member
from ._safety import report
from ._telemetry import Telemetry

_MISSING: Any = object()

CALL_KEY = create_key("aigw_trace.call")
"""Context key under which the call in progress travels with its span (one ``attach`` sets both)."""


def _runtime_context_var() -> ContextVar[Context] | None:
    """The ``ContextVar`` the OpenTelemetry API keeps the current context in, when the configured runtime context is
    the API's own (``contextvars``, the default and only one it ships); ``None`` otherwise, and the public
    functions are used. The API's ``get_current``/``attach``/``detach`` are two Python calls each around this
    variable's ``get``/``set``/``reset``, and a call goes through them about ten times."""
    from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    var = getattr(runtime, "_current_context", None)
    return var if isinstance(var, ContextVar) else None


_CONTEXT_VAR = _runtime_context_var()
current_context: Callable[[], Context] = _CONTEXT_VAR.get if _CONTEXT_VAR is not None else get_current
"""``opentelemetry.context.get_current``, without its two Python frames when the runtime context allows."""


attach_context: Callable[[Context], Token[Context]] = (
    _CONTEXT_VAR.set if _CONTEXT_VAR is not None else otel_context.attach
)
"""``opentelemetry.context.attach``, or the variable's own ``set``, which is all it does."""
reset_context: Callable[[Token[Context]], None] = (
    _CONTEXT_VAR.reset if _CONTEXT_VAR is not None else otel_context.detach
)
"""The variable's own ``reset``, which is all ``opentelemetry.context.detach`` does, except that it may raise (a
token from another context): callers then hand the token to ``detach``, which logs it as it always did."""


def current_call() -> Call | None:
    """The SDK call in progress in this context, if aigw-trace is tracing one."""
    call = current_context().get(CALL_KEY)
    return call if call.__class__ is Call else None


def error_type(exc: BaseException) -> str:
    """Low-cardinality ``error.type``: the exception's class name (``RateLimitError``, ``APITimeoutError``, …)."""
    return type(exc).__qualname__


class Call:
    """Span lifecycle and recording for one logical SDK call."""

    # Not slotted: per-call state that most calls never set lives here as class defaults, so building a Call costs
    # only the stores that vary.
    context: Context | None = None
    inject_context: Context | None = None
    """What is propagated: the call's context, plus the session baggage when that is turned on."""
    session_id: str | None = None
    headers: Any = None
    """The final HTTP response's headers, once seen."""
    observer: Any = None
    """A weak handle on the stream-observing generator (``_streams._Running``), once a stream is being observed:
    :attr:`reading` asks it whether the observer is pulling a chunk, without the call keeping the stream alive."""
    records_metrics = True
    """False inside another instrumentation's GenAI client span for this call (a framework's own), whose metrics
    already count it: the span is still made (it is what the gateway joins), no metric is recorded twice."""
    hides_usage_chunk = False
    """True when aigw-trace asked for the stream's usage (the ``stream_usage`` option): its usage-only chunk is
    folded but not handed to the app, which sees what it would see without the option."""
    wants_body = False
    """True when nobody will parse the response for us (raw streaming response of a JSON endpoint)."""
    _ended = False
    _first_chunk: float | None = None
    _last_chunk = 0.0
    _chunk_timer: Any = None

    def __init__(
        self,
        tel: Telemetry,
        endpoint: Endpoint,
        span: Span,
        metrics: MetricAttributes,
        stream: bool,
        accumulator: StreamAccumulator | None,
        event_attrs: dict[str, Any] | None,
    ) -> None:
        self._tel = tel
        self.endpoint = endpoint
        self.span = span
        self._metrics = metrics
        self._start = perf_counter()
        self.stream = stream
        self._acc = accumulator
        self._event_attrs = event_attrs

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def reading(self) -> bool:
        """True while the stream observer is pulling the next chunk: a body close seen then belongs to the observer,
        which ends the call with the right outcome (an error raised mid-stream closes the body first). Read off the
        generator's own running flag, so the per-chunk path sets nothing."""
        observer = self.observer
        return observer is not None and bool(
            getattr(observer, "gi_running", False) or getattr(observer, "ag_running", False)
        )

    # --- streams ---

    def first_chunk(self, chunk: Any) -> Callable[[Any], None] | None:
        """Take the stream's first item; return what must see each later item (``None``: nothing). Never raises.

        Everything per-stream is decided here, once, so the per-chunk path is a single call to the accumulator
        (or nothing at all) rather than a method that re-checks settings on every chunk.
        """
        try:
            self._first_chunk = self._last_chunk = perf_counter()
            acc = self._acc
            if acc is not None:
                acc.add(chunk)
            tel = self._tel
            if tel.times_chunks and self.records_metrics:
                self._chunk_timer = tel.metrics.chunk_timer(self._metrics)
                if self._chunk_timer is not None:
                    return self._timed_chunk
            return acc.add if acc is not None else None
        except Exception as exc:
            report("stream chunk", exc)
            return None

    def _timed_chunk(self, chunk: Any) -> None:
        now = perf_counter()
        self._chunk_timer.record(now - self._last_chunk, self._metrics.base, self.context)
        self._last_chunk = now
        if self._acc is not None:
            self._acc.add(chunk)

    # --- the single end ---

    def end(self, error: BaseException | None = None, *, response: Any = _MISSING, outcome: str | None = None) -> None:
        """End the span once, recording the response (or the stream's summary) first; later calls are no-ops.
        Never raises. One method, not a chain: it runs at the end of every call."""
        if self._ended:
            return
        self._ended = True
        try:
            duration = perf_counter() - self._start
            ep = self.endpoint
            span = self.span
            attrs: dict[str, AttributeValue] = {}
            if response is _MISSING:
                response = self._acc.result() if self._acc is not None else None

            tel = self._tel
            if response is not None:
                ep.readers[tel.conventions].read(response, attrs)
                if ep.adds_cache_to_input and A.USAGE_INPUT_TOKENS in attrs:
                    # Anthropic counts cached tokens outside input_tokens; the conventions count them in.
                    attrs[A.USAGE_INPUT_TOKENS] = (
                        attrs[A.USAGE_INPUT_TOKENS]  # type: ignore[operator]
                        + attrs.get(A.USAGE_CACHE_READ_INPUT_TOKENS, 0)
                        + attrs.get(tel.cache_write_key, 0)
                    )
                if ep.finish_reasons is not None:
                    reasons = ep.finish_reasons(response)
                    if reasons:
                        attrs[A.RESPONSE_FINISH_REASONS] = reasons
                if error is None and ep.error is not None:
                    # An SDK model without that field can only hold it among its extras: read them without a call.
                    extra = getattr(response, "__pydantic_extra__", _MISSING)
                    if extra is not _MISSING and ep.error not in response.__dict__:
                        body_error = extra.get(ep.error) if extra else None
                    else:
                        body_error = member(response, ep.error)
                    if body_error is not None:
                        code = as_str(dig(body_error, ("type",))) or as_str(dig(body_error, ("code",)))
                        attrs[A.ERROR_TYPE] = code or A.ERROR_TYPE_OTHER
                        span.set_status(Status(StatusCode.ERROR, "error object in response body"))
                if self._event_attrs is not None or tel.content_on_span:
                    tel.capture_outputs(tel, ep, response, attrs, self._event_attrs)

            ttfc = None
            if self.stream:
                if self._first_chunk is not None:
                    ttfc = self._first_chunk - self._start
                    attrs[A.RESPONSE_TIME_TO_FIRST_CHUNK] = ttfc
                if outcome is None:
                    outcome = "error" if error is not None else "completed"
                attrs[A.AIGW_STREAM_OUTCOME] = outcome

            etype: Any = None
            if error is not None:
                if self.headers is None:
                    failed = getattr(error, "response", None)  # an APIStatusError's HTTP response
                    if failed is not None:
                        self.headers = getattr(failed, "headers", None)
                if isinstance(error, Exception):
                    etype = error_type(error)
                    attrs[A.ERROR_TYPE] = etype
                    status = as_int(getattr(error, "status_code", None))
                    if status is not None:
                        attrs[A.HTTP_RESPONSE_STATUS_CODE] = status
                    span.set_status(Status(StatusCode.ERROR, etype))
            else:
                etype = attrs.get(A.ERROR_TYPE)

            headers = self.headers
            if headers is not None and tel.records_response_headers:
                settings = tel.settings
                # The usual response (httpx's headers, no traceresponse, no gateway headers asked for) has nothing to
                # read: told at C level, without the Python frames of reading it (about 10k instructions a call).
                if (
                    settings.response_headers
                    or FLAT_HEADERS.get(headers.__class__) is not True
                    or TRACERESPONSE in map(LOWER_KEY, headers._list)
                ):
                    try:
                        read_response_headers(span, headers, settings.response_headers, settings.traceresponse, attrs)
                    except Exception as exc:
                        report("recording gateway response headers", exc)
            if attrs:
                span.set_attributes(attrs)
            hook = tel.settings.response_hook
            if hook is not None:
                try:
                    hook(
                        span,
                        tel.response_info(response=response, error=error, stream=self.stream, headers=self.headers),
                    )
                except Exception as exc:
                    report("response_hook", exc)
            if self.records_metrics:
                # In the call's own context, as its log event: with the SDK's default exemplar filter a sampled span's
                # records carry an exemplar that names this span, not whatever the caller has current at the end.
                tel.metrics.record(self._metrics, attrs, duration, ttfc, etype, self.context)
            if self._event_attrs is not None and tel.logger is not None:
                self._event_attrs.update(attrs)
                tel.logger.emit(
                    event_name=A.EVENT_INFERENCE_DETAILS, attributes=self._event_attrs, context=self.context
                )
        except Exception as exc:
            report("recording the response", exc)
        finally:
            self.span.end()
            # The context holds this call: drop it (and the observer's handle), so the call is freed as soon as the
            # caller lets go, not left to the cycle collector.
            self.context = self.inject_context = self.observer = None
