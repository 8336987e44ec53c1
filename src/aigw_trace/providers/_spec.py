"""The vocabulary a provider module uses to describe an SDK: what to wrap and how to read it.

A provider module is data: a :class:`Provider` naming the SDK's base-client classes, a router from an HTTP
method and path to an :class:`Endpoint`, and per endpoint the tables that turn a request body and a response into
span attributes. The generic machinery in ``aigw_trace._wrap`` and ``aigw_trace._call`` does everything else.

Every reader goes through :func:`dig`, which walks attributes of SDK models and keys of plain dicts alike, so
one table serves a parsed response, a raw JSON body and the summary a stream accumulator builds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry.util.types import AttributeValue

Path = tuple[str, ...]
"""A path into a response: ``("usage", "prompt_tokens")``."""

Convert = Callable[[Any], "AttributeValue | None"]
"""Turns a raw value into an attribute value, or ``None`` to leave the attribute out (wrong type, odd value)."""

Messages = list[dict[str, Any]]
"""JSON-ready content in the conventions' message/part schema."""


def dig(obj: Any, path: Path) -> Any:
    """Follow ``path`` through attributes or dict keys; ``None`` as soon as a step is missing."""
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
    return obj


# --- converters: they never raise and drop what the conventions' types do not allow ---


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def as_str_list(value: Any) -> list[str] | None:
    """A string or a list of strings (``stop`` accepts both) as a string list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


@dataclass(frozen=True)
class Field:
    """One value read from a request body (``path`` of length 1 is a top-level key) or a response."""

    path: Path
    attribute: str
    convert: Convert = as_str


@dataclass(frozen=True)
class Usage:
    """Where a response keeps its token counts; paths are relative to the usage object at ``at``."""

    at: Path = ("usage",)
    input: Path = ("prompt_tokens",)
    output: Path | None = ("completion_tokens",)
    cache_read: Path | None = None
    cache_creation: Path | None = None
    reasoning: Path | None = None
    input_excludes_cache: bool = False
    """Anthropic counts cached tokens outside ``input_tokens``; the conventions want them inside."""


class StreamAccumulator(Protocol):
    """Folds a stream's chunks into one object shaped like the non-streamed response.

    ``add`` runs once per chunk and must stay cheap (attribute reads, no serialisation). ``result`` runs once, when
    the stream ends, and its value is read with the endpoint's ordinary response tables.
    """

    def add(self, chunk: Any) -> None: ...

    def result(self) -> Any: ...


@dataclass(frozen=True)
class Content:
    """How an endpoint's content maps to the conventions' message schema (only used when capture is on)."""

    inputs: Callable[[Mapping[str, Any]], tuple[Messages | None, Messages | None, Messages | None]]
    """Request body → (system instructions, input messages, tool definitions)."""
    outputs: Callable[[Any], Messages | None]
    """Response (or stream summary) → output messages."""


@dataclass(frozen=True, eq=False)
class Endpoint:
    """What one SDK endpoint means in GenAI terms, and where its values are.

    Compared and hashed by identity: the core caches per endpoint object.
    """

    operation: str
    """``gen_ai.operation.name``; the span is named ``"{operation} {request model}"``."""
    attributes: Mapping[str, AttributeValue] = field(default_factory=dict)
    """Constant attributes, e.g. ``openai.api.type``."""
    request: Sequence[Field] = ()
    request_extra: Callable[[Mapping[str, Any], dict[str, AttributeValue]], None] | None = None
    """For request values a table cannot express (conditional or derived attributes)."""
    model: Path = ("model",)
    response: Sequence[Field] = ()
    usage: Usage | None = None
    finish_reasons: Callable[[Any], list[str] | None] | None = None
    error: Path | None = None
    """Where an OpenAI-compatible gateway puts an error object inside a 200 body."""
    stream: Callable[[bool], StreamAccumulator] | None = None
    """Builds an accumulator for one stream; the flag says whether content is being captured."""
    content: Content | None = None
    span_name: str | None = None
    """Fixed span name for endpoints without a model (otherwise ``"{operation} {model}"``)."""

    @property
    def reads_response(self) -> bool:
        """Whether anything is read from this endpoint's response (if not, its body is never buffered)."""
        return bool(self.response or self.usage or self.finish_reasons or self.error or self.content)


@dataclass(frozen=True)
class Provider:
    """An SDK generated from the Stainless template, and how to recognise its calls."""

    name: str
    """Default ``gen_ai.provider.name``."""
    package: str
    """Top-level module; its absence means the SDK is not installed."""
    base_client_module: str
    sync_client: str
    async_client: str
    stream_module: str
    sync_stream: str
    async_stream: str
    route: Callable[[Any], Endpoint | None]
    """The SDK's ``FinalRequestOptions`` (``method``, ``url``, ``json_data``, …) → endpoint, or ``None`` for calls
    this provider does not trace. Runs on every call: keep it a dict lookup where possible."""
    provider_name: Callable[[Any], str] | None = None
    """Per client class (result cached by class): e.g. ``azure.ai.openai`` for the Azure client."""
    raw_response_classes: Sequence[tuple[str, str]] = ()
    """(module, class) of the SDK's raw-response wrappers (``with_raw_response``, ``with_streaming_response``)."""
    extra_setup: Callable[[Any], Callable[[], None]] | None = None
    """Optional SDK-specific patching, given the live instrumentation; returns its undo function."""
