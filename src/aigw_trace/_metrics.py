"""Metrics: the attribute sets a call records with, and the two sets of instruments it records into.

Which instruments exist is decided once, when the telemetry is built: :class:`ReleasedMetrics` (the released v1.41
conventions, the default) or :class:`LatestMetrics` (the latest GenAI conventions, behind
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``). A call hands its end-of-call values to whichever was
chosen; it never asks which one it has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry.context import Context
from opentelemetry.metrics import Counter, Histogram, Meter
from opentelemetry.util.types import AttributeValue

from . import _attributes as A

_MAX_RESPONSE_MODELS = 16

Attributes = dict[str, AttributeValue]
MetricSets = tuple[Attributes, Attributes, Attributes]
"""Attributes of the duration record and of the input and output token records."""
CountedSets = tuple[Attributes, Attributes]
"""Latest conventions: attributes of the duration and per-operation records, and of the token counters."""


class MetricAttributes:
    """The metric attributes of one client, endpoint and request model, built once per response.

    The attribute dicts a call records with differ only by what the response says (its model, and the provider's
    :attr:`response_keys`) and by token type or modality, so they are made once per :func:`response_key` and reused:
    never mutated, since the metrics SDK may keep the dict it was given. Bounded, because the response's values are
    whatever the server says.
    """

    __slots__ = ("base", "by_model", "counted_by_model", "response_keys")

    def __init__(self, base: Attributes, response_keys: tuple[str, ...] = ()) -> None:
        self.base = base
        self.response_keys = response_keys
        """Span attributes besides the response model that the provider's conventions put on its metrics
        (``Provider.metric_attributes``); most providers have none, and their key is the response model alone."""
        self.by_model: dict[Any, MetricSets] = {}
        """:func:`response_key` → sets; read directly on the hot path, filled by :meth:`for_response`."""
        self.counted_by_model: dict[Any, CountedSets] = {}
        """The same for the latest conventions' token counters, filled by :meth:`counted_for_response`."""

    def for_response(self, key: Any) -> MetricSets:
        """The sets for one :func:`response_key`."""
        sets = self.by_model.get(key)
        if sets is None:
            attrs = self._attrs(key)
            sets = (
                attrs,
                {**attrs, A.TOKEN_TYPE: A.TOKEN_TYPE_INPUT},
                {**attrs, A.TOKEN_TYPE: A.TOKEN_TYPE_OUTPUT},
            )
            if len(self.by_model) >= _MAX_RESPONSE_MODELS:
                self.by_model.clear()
            self.by_model[key] = sets
        return sets

    def counted_for_response(self, key: Any) -> CountedSets:
        sets = self.counted_by_model.get(key)
        if sets is None:
            attrs = self._attrs(key)
            sets = (attrs, {**attrs, A.TOKEN_MODALITY: A.TOKEN_MODALITY_UNKNOWN})
            if len(self.counted_by_model) >= _MAX_RESPONSE_MODELS:
                self.counted_by_model.clear()
            self.counted_by_model[key] = sets
        return sets

    def _attrs(self, key: Any) -> Attributes:
        if not self.response_keys:
            return self.base if key is None else {**self.base, A.RESPONSE_MODEL: key}
        found = {k: v for k, v in zip((A.RESPONSE_MODEL, *self.response_keys), key, strict=True) if v is not None}
        return {**self.base, **found} if found else self.base


def response_key(metrics: MetricAttributes, attrs: Attributes) -> Any:
    """What a call's response adds to its metric attributes, as the key its sets are cached under: the response model,
    with the values of the provider's :attr:`~MetricAttributes.response_keys` when it has some."""
    model = attrs.get(A.RESPONSE_MODEL)
    keys = metrics.response_keys
    return (model, *map(attrs.get, keys)) if keys else model


def _seconds(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name, unit="s", description=description, explicit_bucket_boundaries_advisory=list(A.DURATION_BUCKETS)
    )


def _tokens(meter: Meter, name: str, description: str) -> Histogram:
    return meter.create_histogram(
        name, unit="{token}", description=description, explicit_bucket_boundaries_advisory=list(A.TOKEN_BUCKETS)
    )


class ReleasedMetrics:
    """The released conventions (v1.41): ``gen_ai.client.operation.duration``, ``gen_ai.client.token.usage`` by
    ``gen_ai.token.type``, and the ``gen_ai.client.operation.*`` chunk timings."""

    def __init__(self, meter: Meter, time_per_chunk: bool) -> None:
        self.duration = _seconds(meter, A.METRIC_OPERATION_DURATION, "GenAI operation duration")
        self.tokens = _tokens(meter, A.METRIC_TOKEN_USAGE, "Number of input and output tokens used")
        self.ttfc = _seconds(
            meter, A.METRIC_TIME_TO_FIRST_CHUNK, "Time from the request to the first chunk of a streamed response"
        )
        self.time_per_chunk: Histogram | None = (
            _seconds(meter, A.METRIC_TIME_PER_OUTPUT_CHUNK, "Time between consecutive chunks of a streamed response")
            if time_per_chunk
            else None
        )

    def chunk_timer(self, metrics: MetricAttributes) -> Histogram | None:
        """Where a stream's time per chunk goes (``None``: not recorded); asked once per stream."""
        return self.time_per_chunk

    def record(
        self,
        metrics: MetricAttributes,
        attrs: Attributes,
        duration: float,
        ttfc: float | None,
        etype: Any,
        context: Context | None = None,
    ) -> None:
        """Record one ended call: its duration, time to first chunk (streams) and token usage. ``context`` is the
        call's own (its span current), so that exemplars name the call's span; given once (the SDK reads the current
        context per record otherwise)."""
        key = response_key(metrics, attrs)
        sets = metrics.by_model.get(key)
        metric, input_metric, output_metric = sets or metrics.for_response(key)
        if ttfc is not None:
            self.ttfc.record(ttfc, metric, context=context)  # chunk timings carry no error.type
        if etype is not None:
            # The usual call records with cached attribute sets; an error adds its type to fresh copies.
            metric = {**metric, A.ERROR_TYPE: etype}
            input_metric = {**input_metric, A.ERROR_TYPE: etype}
            output_metric = {**output_metric, A.ERROR_TYPE: etype}
        self.duration.record(duration, metric, context=context)
        input_tokens = attrs.get(A.USAGE_INPUT_TOKENS)
        if input_tokens is not None:
            self.tokens.record(input_tokens, input_metric, context=context)  # type: ignore[arg-type]
        output_tokens = attrs.get(A.USAGE_OUTPUT_TOKENS)
        if output_tokens is not None:
            self.tokens.record(output_tokens, output_metric, context=context)  # type: ignore[arg-type]


Record = Callable[[MetricAttributes, Attributes, float, "float | None", Any, "Context | None"], None]


class LatestMetrics:
    """The latest GenAI conventions (semantic-conventions-genai ``main``, see docs/conventions.md).

    Inference operations (``chat``, ``text_completion``, ``generate_content``) get ``gen_ai.client.inference.*``:
    the duration, the chunk timings, a monotonic counter per token category (by ``gen_ai.token.modality``) and a
    histogram per direction per operation. Embeddings get ``gen_ai.client.embeddings.*``. Every other operation
    (retrieval, agents, images, files, …) has no new instrument in those conventions and keeps the released ones.
    """

    def __init__(self, meter: Meter, time_per_chunk: bool) -> None:
        self.released = ReleasedMetrics(meter, time_per_chunk)
        """For the operations the latest conventions leave as they were."""
        self.duration = _seconds(meter, A.METRIC_INFERENCE_DURATION, "GenAI client inference operation duration")
        self.ttfc = _seconds(
            meter, A.METRIC_INFERENCE_TIME_TO_FIRST_CHUNK, "Time from the request to the first chunk of the response"
        )
        self.time_per_chunk: Histogram | None = (
            _seconds(meter, A.METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK, "Time between consecutive chunks of a response")
            if time_per_chunk
            else None
        )

        def counter(name: str, description: str) -> Counter:
            return meter.create_counter(name, unit="{token}", description=description)

        self.input_tokens = counter(A.METRIC_INFERENCE_USAGE_INPUT_TOKENS, "Input tokens used, cached ones included")
        self.output_tokens = counter(A.METRIC_INFERENCE_USAGE_OUTPUT_TOKENS, "Output tokens used")
        self.details: tuple[tuple[str, Counter], ...] = (
            (A.USAGE_CACHE_READ_INPUT_TOKENS,
             counter(A.METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS, "Input tokens served from a provider cache")),
            (A.USAGE_CACHE_WRITE_INPUT_TOKENS,
             counter(A.METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS, "Input tokens written to a provider cache")),
            (A.USAGE_REASONING_OUTPUT_TOKENS,
             counter(A.METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS, "Output tokens used for reasoning")),
        )  # fmt: skip
        """(span attribute, counter) of the subset counts, recorded when the provider reported a non-zero count."""
        self.operation_input = _tokens(meter, A.METRIC_INFERENCE_OPERATION_INPUT_TOKENS, "Input tokens per operation")
        self.operation_output = _tokens(
            meter, A.METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS, "Output tokens per operation"
        )
        self.embeddings_duration = _seconds(meter, A.METRIC_EMBEDDINGS_DURATION, "GenAI client embeddings duration")
        self.embeddings_input = _tokens(
            meter, A.METRIC_EMBEDDINGS_OPERATION_INPUT_TOKENS, "Input tokens per embeddings operation"
        )
        self._by_operation: dict[Any, Record] = dict.fromkeys(A.INFERENCE_OPERATIONS, self._inference)
        self._by_operation[A.EMBEDDINGS_OPERATION] = self._embeddings

    def chunk_timer(self, metrics: MetricAttributes) -> Histogram | None:
        if metrics.base.get(A.OPERATION_NAME) in A.INFERENCE_OPERATIONS:
            return self.time_per_chunk
        return self.released.time_per_chunk

    def record(
        self,
        metrics: MetricAttributes,
        attrs: Attributes,
        duration: float,
        ttfc: float | None,
        etype: Any,
        context: Context | None = None,
    ) -> None:
        record = self._by_operation.get(metrics.base.get(A.OPERATION_NAME), self.released.record)
        record(metrics, attrs, duration, ttfc, etype, context)

    def _inference(
        self,
        metrics: MetricAttributes,
        attrs: Attributes,
        duration: float,
        ttfc: float | None,
        etype: Any,
        context: Context | None = None,
    ) -> None:
        key = response_key(metrics, attrs)
        sets = metrics.counted_by_model.get(key)
        metric, counted = sets or metrics.counted_for_response(key)
        if ttfc is not None:
            self.ttfc.record(ttfc, metric, context=context)
        self.duration.record(duration, metric if etype is None else {**metric, A.ERROR_TYPE: etype}, context=context)
        input_tokens = attrs.get(A.USAGE_INPUT_TOKENS)
        output_tokens = attrs.get(A.USAGE_OUTPUT_TOKENS)
        # Counted for every operation, failed ones too: 0 under modality "unknown" when no usage came back.
        self.input_tokens.add(input_tokens or 0, counted, context=context)  # type: ignore[arg-type]
        self.output_tokens.add(output_tokens or 0, counted, context=context)  # type: ignore[arg-type]
        for key, counter in self.details:
            value = attrs.get(key)
            if value:  # a 0 adds nothing to a sum and costs a record (about as much as the whole span's end)
                counter.add(value, counted, context=context)  # type: ignore[arg-type]
        if etype is None:  # the per-operation distributions leave failed operations out (#530)
            if input_tokens is not None:
                self.operation_input.record(input_tokens, metric, context=context)  # type: ignore[arg-type]
            if output_tokens is not None:
                self.operation_output.record(output_tokens, metric, context=context)  # type: ignore[arg-type]

    def _embeddings(
        self,
        metrics: MetricAttributes,
        attrs: Attributes,
        duration: float,
        ttfc: float | None,
        etype: Any,
        context: Context | None = None,
    ) -> None:
        key = response_key(metrics, attrs)
        sets = metrics.by_model.get(key)
        metric = (sets or metrics.for_response(key))[0]
        self.embeddings_duration.record(
            duration, metric if etype is None else {**metric, A.ERROR_TYPE: etype}, context=context
        )
        input_tokens = attrs.get(A.USAGE_INPUT_TOKENS)
        if input_tokens is not None:
            self.embeddings_input.record(input_tokens, metric, context=context)  # type: ignore[arg-type]


Metrics = ReleasedMetrics | LatestMetrics
