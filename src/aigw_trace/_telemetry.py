"""The OpenTelemetry handles aigw-trace records through, obtained once at ``instrument()`` time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.metrics import get_meter

from . import _attributes as A
from ._config import Settings, latest_genai_conventions
from ._metrics import LatestMetrics, Metrics, ReleasedMetrics
from ._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from opentelemetry._logs import Logger
    from opentelemetry.util.types import AttributeValue

    from ._content import Form
    from ._hooks import RequestInfo, ResponseInfo
    from ._providers._spec import Endpoint

    Capture = Callable[["Telemetry", Endpoint, Any, dict[str, AttributeValue], "dict[str, Any] | None"], None]

SCOPE = "aigw_trace"
SCHEMA_URL = A.SCHEMA_URL
"""The default (released v1.41) schema URL; with the latest conventions, ``A.LATEST[SCHEMA_URL]``."""


class Telemetry:
    """Tracer, instruments and event logger, plus the resolved settings: everything a call records through.

    The conventions (released v1.41 by default, the latest with ``OTEL_SEMCONV_STABILITY_OPT_IN``) are chosen here,
    once: the schema URL, the metric instruments, the column of each endpoint's two-column tables that calls read
    with, the attribute key Anthropic's cache writes go under, and the form of captured content parts.
    """

    __slots__ = (
        "baggage",
        "cache_write_key",
        "capture_inputs",
        "capture_outputs",
        "content_form",
        "content_on_event",
        "content_on_span",
        "conventions",
        "logger",
        "metrics",
        "records_response_headers",
        "request_info",
        "response_info",
        "settings",
        "times_chunks",
        "tracer",
    )

    def __init__(
        self,
        settings: Settings,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        self.settings = settings
        latest = latest_genai_conventions()
        self.conventions = int(latest)
        """0: released, 1: latest. The column of every two-column table a call reads (``Endpoint.readers``)."""
        schema_url = A.named(SCHEMA_URL, latest)
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=schema_url)
        meter = get_meter(SCOPE, __version__, meter_provider, schema_url=schema_url)
        self.metrics: Metrics = (LatestMetrics if latest else ReleasedMetrics)(meter, settings.time_per_output_chunk)
        self.times_chunks = settings.time_per_output_chunk
        self.cache_write_key = A.named(A.USAGE_CACHE_CREATION_INPUT_TOKENS, latest)
        """Where the endpoint reader puts the cache-write count (Anthropic adds it to the input tokens)."""
        # The modules only some settings need are imported here, once, and only for those settings: instrument()
        # stays cheap by default and no call pays an import.
        self.capture_inputs: Capture
        self.capture_outputs: Capture
        self.content_form: Form
        """Set only when content is read (captured on the span, or for the inference-details event)."""
        if settings.content.on_span or settings.emit_event:
            from . import _content

            self.capture_inputs, self.capture_outputs = _content.capture_inputs, _content.capture_outputs
            self.content_form = _content.generic_parts if latest else _content.same_parts
        self.request_info: type[RequestInfo]
        self.response_info: type[ResponseInfo]
        """What the hooks are handed; set only when a hook is."""
        if settings.request_hook is not None or settings.response_hook is not None:
            from ._hooks import RequestInfo, ResponseInfo

            self.request_info, self.response_info = RequestInfo, ResponseInfo
        self.baggage: ModuleType | None = None
        """``opentelemetry.baggage`` (its regular expressions cost 1 ms), when the session id goes into baggage."""
        if settings.session_baggage:
            from opentelemetry import baggage

            self.baggage = baggage
        self.logger: Logger | None = None
        if settings.emit_event:
            # Imported only here: an instrumentation that emits no events never loads the logs API.
            from opentelemetry._logs import get_logger

            self.logger = get_logger(SCOPE, __version__, logger_provider, schema_url=schema_url)
        # Read on every call: resolved once here.
        self.content_on_span = settings.content.on_span
        self.content_on_event = settings.content.on_event and self.logger is not None
        # Whether the span gets response headers (gateway headers, traceresponse); the hook alone needs none there.
        self.records_response_headers = bool(settings.response_headers) or settings.traceresponse
