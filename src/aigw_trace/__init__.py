"""aigw-trace: OpenTelemetry GenAI spans for the ``openai`` and ``anthropic`` SDKs that join your AI gateway's trace.

Public API::

    import aigw_trace
    aigw_trace.instrument()          # or: opentelemetry-instrument python app.py
    aigw_trace.uninstrument()
"""

from __future__ import annotations

from typing import Any

from ._config import ContentMode
from ._hooks import RequestInfo, ResponseInfo
from ._instrumentor import AIGatewayInstrumentor
from ._scope import attributes, enrich
from ._version import __version__

__all__ = [
    "AIGatewayInstrumentor",
    "ContentMode",
    "RequestInfo",
    "ResponseInfo",
    "__version__",
    "attributes",
    "enrich",
    "instrument",
    "uninstrument",
]


def instrument(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    logger_provider: Any = None,
    **options: Any,
) -> None:
    """Instrument the ``openai`` and ``anthropic`` SDKs (installed now or imported later).

    Providers default to the global ones. Options (each also settable by environment variable, see the docs):

    - ``capture_content``: ``ContentMode`` or its name (``"span_only"``, …), or ``True``/``False``. Default: no
      content (``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``).
    - ``emit_event``: emit ``gen_ai.client.inference.operation.details`` log events
      (``OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT``; default on for the event content modes).
    - ``content_max_length``: max characters per content attribute (``AIGW_TRACE_CONTENT_MAX_LENGTH``, 65536).
    - ``time_per_output_chunk``: record ``gen_ai.client.operation.time_per_output_chunk``, one histogram record per
      streamed chunk (``AIGW_TRACE_TIME_PER_OUTPUT_CHUNK``; default off, it is the costliest metric).
    - ``propagate``: inject the trace context into requests (``AIGW_TRACE_PROPAGATE``; default on).
    - ``inject_hosts``: only inject into requests to these hosts (exact or ``*.suffix``; ``AIGW_TRACE_INJECT_HOSTS``).
    - ``gateway``: response-header presets to record (``litellm``, ``envoy``, ``kong``, ``portkey``, ``cloudflare``;
      ``AIGW_TRACE_GATEWAY``); ``response_headers``: more header names (``AIGW_TRACE_RESPONSE_HEADERS``).
    - ``traceresponse``: record the gateway's W3C ``traceresponse`` (``AIGW_TRACE_TRACERESPONSE``; default on).
    - ``session_baggage`` / ``session_headers``: also send the scoped conversation id as baggage ``session.id`` /
      in these headers (``AIGW_TRACE_SESSION_BAGGAGE``, ``AIGW_TRACE_SESSION_HEADERS``; default off).
    - ``request_hook(span, RequestInfo)`` / ``response_hook(span, ResponseInfo)``: add your own attributes; a hook
      that raises is logged and ignored.

    A second call while instrumented does nothing.
    """
    AIGatewayInstrumentor().instrument(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        logger_provider=logger_provider,
        **options,
    )


def uninstrument() -> None:
    """Undo :func:`instrument`; safe to call when not instrumented."""
    AIGatewayInstrumentor().uninstrument()
