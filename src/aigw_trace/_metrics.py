"""Metric attribute sets: built once per client, endpoint, request model and response model, then reused."""

from __future__ import annotations

from typing import Any

from opentelemetry.util.types import AttributeValue

from . import _attributes as A

_MAX_RESPONSE_MODELS = 16

MetricSets = tuple["dict[str, AttributeValue]", "dict[str, AttributeValue]", "dict[str, AttributeValue]"]
"""Attributes of the duration record and of the input and output token records."""


class MetricAttributes:
    """The metric attributes of one client, endpoint and request model, built once per response model.

    The three attribute dicts a call records with differ only by response model (and token type), so they are made
    once and reused: never mutated, since the metrics SDK may keep the dict it was given. Bounded, because the
    response model is whatever the server says.
    """

    __slots__ = ("base", "by_model")

    def __init__(self, base: dict[str, AttributeValue]) -> None:
        self.base = base
        self.by_model: dict[Any, MetricSets] = {}
        """Response model → sets; read directly on the hot path, filled by :meth:`for_response`."""

    def for_response(self, model: Any) -> MetricSets:
        sets = self.by_model.get(model)
        if sets is None:
            attrs = self.base if model is None else {**self.base, A.RESPONSE_MODEL: model}
            sets = (
                attrs,
                {**attrs, A.TOKEN_TYPE: A.TOKEN_TYPE_INPUT},
                {**attrs, A.TOKEN_TYPE: A.TOKEN_TYPE_OUTPUT},
            )
            if len(self.by_model) >= _MAX_RESPONSE_MODELS:
                self.by_model.clear()
            self.by_model[model] = sets
        return sets
