"""The OpenTelemetry handles aigw-trace records through, obtained once at ``instrument()`` time."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry._logs import Logger, get_logger
from opentelemetry.metrics import Histogram, get_meter

from . import _attributes as A
from ._config import Settings
from ._version import __version__

SCOPE = "aigw_trace"
SCHEMA_URL = A.SCHEMA_URL


class Telemetry:
    """Tracer, histograms and event logger, plus the resolved settings: everything a call records through."""

    __slots__ = (
        "content_on_event",
        "content_on_span",
        "duration",
        "logger",
        "records_response_headers",
        "settings",
        "time_per_chunk",
        "tokens",
        "tracer",
        "ttfc",
    )

    def __init__(
        self,
        settings: Settings,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        logger_provider: Any = None,
    ) -> None:
        self.settings = settings
        self.tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
        meter = get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
        self.duration: Histogram = meter.create_histogram(
            A.METRIC_OPERATION_DURATION,
            unit="s",
            description="GenAI operation duration",
            explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS),
        )
        self.tokens: Histogram = meter.create_histogram(
            A.METRIC_TOKEN_USAGE,
            unit="{token}",
            description="Number of input and output tokens used",
            explicit_bucket_boundaries_advisory=list(A.TOKEN_BUCKETS),
        )
        self.ttfc: Histogram = meter.create_histogram(
            A.METRIC_TIME_TO_FIRST_CHUNK,
            unit="s",
            description="Time from the request to the first chunk of a streamed response",
            explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS),
        )
        self.time_per_chunk: Histogram | None = (
            meter.create_histogram(
                A.METRIC_TIME_PER_OUTPUT_CHUNK,
                unit="s",
                description="Time between consecutive chunks of a streamed response",
                explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS),
            )
            if settings.time_per_output_chunk
            else None
        )
        wants_logger = settings.emit_event
        self.logger: Logger | None = (
            get_logger(SCOPE, __version__, logger_provider, schema_url=SCHEMA_URL) if wants_logger else None
        )
        # Read on every call: resolved once here.
        self.content_on_span = settings.content.on_span
        self.content_on_event = settings.content.on_event and self.logger is not None
        # Whether the span gets response headers (gateway headers, traceresponse); the hook alone needs none there.
        self.records_response_headers = bool(settings.response_headers) or settings.traceresponse
