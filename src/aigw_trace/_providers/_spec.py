"""The vocabulary a provider module uses to describe an SDK: what to wrap and how to read it.

A provider module is data: a :class:`Provider` naming the SDK's base-client classes, a router from an HTTP
method and path to an :class:`Endpoint`, and per endpoint the tables that turn a request body and a response into
span attributes. The generic machinery in ``aigw_trace._wrap`` and ``aigw_trace._call`` does everything else.

Tables are compiled on an endpoint's first call: the request side into a lookup per top-level body key (a call pays
for the parameters it sets; see ``_request``), the response side into one :class:`~._reader.Reader` that fetches
every value of an SDK model in a single C-level call and walks attributes and dict keys alike for raw JSON bodies,
stream summaries and odd gateway shapes (see ``_reader``). So one table serves all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from opentelemetry.util.types import AttributeValue

from .. import _attributes as A
from ._reader import Reader
from ._request import Param, RequestEntry, compile_read, compile_request, group_request
from ._values import Convert, Path, Record, as_float, as_int, as_str

Messages = list[dict[str, Any]]
"""JSON-ready content in the conventions' message/part schema."""


class Field(Record):
    """One value read from a request body or a response, through dict keys or attributes alike.

    On the request side ``path[0]`` is the top-level body key the value hangs under; longer paths (``("thinking",
    "budget_tokens")``) follow it down, and ``convert`` can map what they find (:func:`~._values.mapped`)."""

    __slots__ = ("attribute", "convert", "fallback", "path")

    path: Path
    attribute: str
    convert: Convert
    fallback: bool
    """Request side: set only if no other key set the attribute (``max_tokens`` yields to
    ``max_completion_tokens`` whichever order the caller wrote them in)."""

    def __init__(self, path: Path, attribute: str, convert: Convert = as_str, fallback: bool = False) -> None:
        init = object.__setattr__
        init(self, "path", path)
        init(self, "attribute", attribute)
        init(self, "convert", convert)
        init(self, "fallback", fallback)


class Usage(Record):
    """Where a response keeps its token counts; paths are relative to the usage object at ``at``."""

    __slots__ = ("at", "cache_creation", "cache_read", "input", "input_excludes_cache", "output", "reasoning")

    at: Path
    input: Path
    output: Path | None
    cache_read: Path | None
    cache_creation: Path | None
    reasoning: Path | None
    input_excludes_cache: bool
    """Anthropic counts cached tokens outside ``input_tokens``; the conventions want them inside."""

    def __init__(
        self,
        at: Path = ("usage",),
        input: Path = ("prompt_tokens",),
        output: Path | None = ("completion_tokens",),
        cache_read: Path | None = None,
        cache_creation: Path | None = None,
        reasoning: Path | None = None,
        input_excludes_cache: bool = False,
    ) -> None:
        init = object.__setattr__
        init(self, "at", at)
        init(self, "input", input)
        init(self, "output", output)
        init(self, "cache_read", cache_read)
        init(self, "cache_creation", cache_creation)
        init(self, "reasoning", reasoning)
        init(self, "input_excludes_cache", input_excludes_cache)


class StreamUsage(Record):
    """How a streamed request asks for its token usage, and how the item that answers is recognised: with the
    ``stream_usage`` option, aigw-trace asks where the caller did not, folds that item and keeps it from the app."""

    __slots__ = ("option", "usage_only")

    option: Path
    """The body path of the boolean that asks (``("stream_options", "include_usage")``)."""
    usage_only: Callable[[Any], bool]
    """Whether a stream item is the one the option adds (and nothing else)."""

    def __init__(self, option: Path, usage_only: Callable[[Any], bool]) -> None:
        object.__setattr__(self, "option", option)
        object.__setattr__(self, "usage_only", usage_only)


class StreamAccumulator(Protocol):
    """Folds a stream's chunks into one object shaped like the non-streamed response.

    ``add`` runs once per chunk and must stay cheap (attribute reads, no serialisation). ``result`` runs once, when
    the stream ends, and its value is read with the endpoint's ordinary response tables.
    """

    def add(self, chunk: Any) -> None: ...

    def result(self) -> Any: ...


_Inputs = Callable[[Mapping[str, Any]], tuple["Messages | None", "Messages | None", "Messages | None"]]


class Content(Record):
    """How an endpoint's content maps to the conventions' message schema (only used when capture is on)."""

    __slots__ = ("inputs", "outputs")

    inputs: _Inputs
    """Request body → (system instructions, input messages, tool definitions)."""
    outputs: Callable[[Any], Messages | None]
    """Response (or stream summary) → output messages."""

    def __init__(self, inputs: _Inputs, outputs: Callable[[Any], Messages | None]) -> None:
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)


class Endpoint:
    """What one SDK endpoint means in GenAI terms, and where its values are.

    Immutable, compared and hashed by identity: the core caches per endpoint object. Written out rather than a frozen
    ``dataclass``: generating its methods cost more at ``instrument()`` than the provider modules' tables do.
    """

    operation: str
    """``gen_ai.operation.name``; the span is named ``"{operation} {request model}"``."""
    attributes: Mapping[str, AttributeValue]
    """Constant attributes, e.g. ``openai.api.type``."""
    request: Sequence[Field | Param]
    """Read per top-level body key present, so a call pays for the parameters it sets, not for the table's size."""
    model: str
    """The request body key naming the model."""
    response: Sequence[Field]
    usage: Usage | None
    finish_reasons: Callable[[Any], list[str] | None] | None
    error: str | None
    """The key under which an OpenAI-compatible gateway puts an error object inside a 200 body."""
    stream: Callable[[bool, tuple[str, ...]], StreamAccumulator] | None
    """Builds an accumulator for one stream, given whether content is being captured and :attr:`carried`."""
    content: Content | None
    stream_usage: StreamUsage | None
    """How a streamed request asks for its token usage, for the ``stream_usage`` option."""
    span_name: str | None
    """Fixed span name for endpoints without a model (otherwise ``"{operation} {model}"``)."""

    # Prepared from the tables above at definition time; the request tables and readers themselves are compiled on
    # the endpoint's first call (each column on its first use), in place, so a call only looks things up.
    request_tables: tuple[_Column, _Column]
    """(released, latest), as :attr:`readers`: each conventions' keys and value types (``_attributes.LATEST``,
    ``_attributes.LATEST_TYPES``). One table when nothing differs. A column not used yet is a
    :class:`_PendingRequestTable`, which the first :meth:`read_request` through it replaces with the compiled
    table."""
    reader: Reader
    """The response reader in the released conventions' keys (``readers[0]``)."""
    readers: tuple[Reader, Reader]
    """(released, latest): the response reader in each conventions' keys (``_attributes.LATEST``); a call reads
    with the column its telemetry chose at ``instrument()`` time. One reader when no key differs. Each compiles on
    its first read (:class:`Reader`), so the column a process does not use is never compiled."""
    reads_response: bool
    """Whether anything is read from this endpoint's response (if not, its body is never buffered)."""
    adds_cache_to_input: bool
    carried: tuple[str, ...]
    """Top-level response keys the response table reads, apart from usage: what a stream's summary copies from the
    stream (a chunk, the final event), so a streamed call records what the plain one does without restating them."""

    def __init__(
        self,
        operation: str,
        attributes: Mapping[str, AttributeValue] | None = None,
        request: Sequence[Field | Param] = (),
        model: str = "model",
        response: Sequence[Field] = (),
        usage: Usage | None = None,
        finish_reasons: Callable[[Any], list[str] | None] | None = None,
        error: str | None = None,
        stream: Callable[[bool, tuple[str, ...]], StreamAccumulator] | None = None,
        content: Content | None = None,
        stream_usage: StreamUsage | None = None,
        span_name: str | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "operation", operation)
        init(self, "attributes", {} if attributes is None else attributes)
        init(self, "request", request)
        init(self, "model", model)
        init(self, "response", response)
        init(self, "usage", usage)
        init(self, "finish_reasons", finish_reasons)
        init(self, "error", error)
        init(self, "stream", stream)
        init(self, "content", content)
        init(self, "stream_usage", stream_usage)
        init(self, "span_name", span_name)
        self.__post_init__()

    def __post_init__(self) -> None:
        """What the declared tables give at definition time (the tables themselves compile on first use)."""
        init = object.__setattr__
        response, usage = self.response, self.usage
        fields = list(response)
        if usage is not None:
            for path, attribute in (
                (usage.input, A.USAGE_INPUT_TOKENS),
                (usage.output, A.USAGE_OUTPUT_TOKENS),
                (usage.cache_read, A.USAGE_CACHE_READ_INPUT_TOKENS),
                (usage.cache_creation, A.USAGE_CACHE_CREATION_INPUT_TOKENS),
                (usage.reasoning, A.USAGE_REASONING_OUTPUT_TOKENS),
            ):
                if path:
                    fields.append(Field((*usage.at, *path), attribute, as_int))
        items = tuple(self.request)
        released: _Column = _NO_REQUEST_TABLE
        latest: _Column = _NO_REQUEST_TABLE
        if items:
            group_request(items)  # a key described twice is an error where the endpoint is defined
            latest_items = tuple(_latest_field(f) if isinstance(f, Field) else f for f in items)
            released = latest = _PendingRequestTable(self, items)
            if latest_items != items:
                group_request(latest_items)
                latest = _PendingRequestTable(self, latest_items)
        init(self, "request_tables", (released, latest))
        reader = Reader(fields, lazy=True)
        latest_fields = [f._replace(attribute=A.LATEST[f.attribute]) if f.attribute in A.LATEST else f for f in fields]
        init(self, "reader", reader)
        init(self, "readers", (reader, reader if latest_fields == fields else Reader(latest_fields, lazy=True)))
        init(self, "reads_response", bool(fields or self.finish_reasons or self.error or self.content))
        init(self, "adds_cache_to_input", usage is not None and usage.input_excludes_cache)
        folded = usage.at[0] if usage is not None and usage.at else None
        init(self, "carried", tuple(dict.fromkeys(f.path[0] for f in response if f.path[0] != folded)))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: an Endpoint is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: an Endpoint is immutable")

    def __repr__(self) -> str:
        return f"Endpoint(operation={self.operation!r}, span_name={self.span_name!r})"

    @property
    def request_table(self) -> Mapping[str, RequestEntry]:
        """The request table in the released conventions' keys and types (``request_tables[0]``), compiled."""
        return self.request_tables[0].table

    def read_request(self, body: Mapping[str, Any], attrs: dict[str, AttributeValue], conventions: int = 0) -> None:
        """Add the attributes the request body's parameters give to ``attrs``, in the keys of ``conventions`` (0:
        released, 1: latest; the column the telemetry chose at ``instrument()`` time).

        The first call compiles the column into one straight-line function (:func:`~._request.compile_read`) and
        puts it on this endpoint as its own ``read_request``, which every later call then calls directly: no loop,
        no bound method. That function sends a call in the other column's keys to :meth:`_read_request_loop`."""
        table = self.request_tables[conventions].table  # compiles a pending column
        released, latest = self.request_tables
        other = None if released is latest else self._read_request_loop
        read = compile_read(table, conventions, other)
        object.__setattr__(self, "read_request", read)
        read(body, attrs, conventions)

    def _read_request_loop(
        self, body: Mapping[str, Any], attrs: dict[str, AttributeValue], conventions: int = 0
    ) -> None:
        """:meth:`read_request` as a loop over the compiled column, for the column its function was not made for."""
        table, keys, entries = self.request_tables[conventions]
        if not table:
            return
        # Walk whichever is shorter: the keys sent (OpenAI leaves omitted parameters out) or the table (Anthropic
        # sends every parameter, most of them as its ``omit`` sentinel). Pairs are made at C level; the loop below
        # only sees each candidate once.
        pairs: Any
        if len(body) <= len(table):
            pairs = zip(body.values(), map(table.get, body), strict=True)
        else:
            pairs = zip(map(body.get, keys), entries, strict=True)
        for value, entry in pairs:
            if value is None or entry is None:
                continue
            attribute, read, fallback, exact = entry
            if attribute is None:
                read(value, attrs)
            elif not fallback or attribute not in attrs:
                if value.__class__ is not exact or not value:  # falsy: the converter decides ("" is no value)
                    value = read(value)
                    if value is None:
                        continue
                attrs[attribute] = value


class _RequestTable(NamedTuple):
    """A compiled request table with its keys and entries as tuples (what :meth:`Endpoint.read_request` walks)."""

    table: Mapping[str, RequestEntry]
    keys: tuple[str, ...]
    entries: tuple[RequestEntry, ...]

    @classmethod
    def of(cls, table: Mapping[str, RequestEntry]) -> _RequestTable:
        return cls(table, tuple(table), tuple(table.values()))


_NO_REQUEST_TABLE = _RequestTable({}, (), ())


class _PendingRequestTable:
    """A column of :attr:`Endpoint.request_tables` not compiled yet.

    :meth:`Endpoint.read_request` unpacks its column as ``table, keys, entries``: unpacking this compiles the table,
    puts it in this object's place in the endpoint's columns and yields it, so the call goes on with the compiled
    table and every later call unpacks that directly, with no check of its own. Two threads calling first at once
    each compile an equal table; whichever stores last stays, and a column a lost store left pending compiles again
    on its next call.
    """

    __slots__ = ("_endpoint", "_items")

    def __init__(self, endpoint: Endpoint, items: tuple[Field | Param, ...]) -> None:
        self._endpoint = endpoint
        self._items = items

    def compile(self) -> _RequestTable:
        compiled = _RequestTable.of(compile_request(self._items))
        ep = self._endpoint
        columns = tuple(compiled if column is self else column for column in ep.request_tables)
        object.__setattr__(ep, "request_tables", columns)
        return compiled

    def __iter__(self) -> Iterator[Any]:
        return iter(self.compile())

    @property
    def table(self) -> Mapping[str, RequestEntry]:
        return self.compile().table

    @property
    def keys(self) -> tuple[str, ...]:
        return self.compile().keys

    @property
    def entries(self) -> tuple[RequestEntry, ...]:
        return self.compile().entries


_Column = _RequestTable | _PendingRequestTable


_CONVERT_TO: dict[type, Convert] = {int: as_int, float: as_float, str: as_str}


def _latest_field(f: Field) -> Field:
    """``f`` in the latest conventions: its attribute renamed, its value converted to the latest type."""
    attribute = A.LATEST.get(f.attribute, f.attribute)
    kind = A.LATEST_TYPES.get(f.attribute)
    convert = _CONVERT_TO[kind] if kind is not None else f.convert
    return f if (attribute, convert) == (f.attribute, f.convert) else f._replace(attribute=attribute, convert=convert)


class Specifics(NamedTuple):
    """What one call adds to its endpoint: ids and names from its path or body (a vector store's id, a batch's).

    A route returns this instead of an :class:`Endpoint` when the span must name something only the call knows. The
    endpoint stays the one prepared at definition time (its tables, its cache entries); only these two values are
    made per call."""

    endpoint: Endpoint
    span_name: str | None = None
    """Replaces the endpoint's span name for this call."""
    attributes: Mapping[str, AttributeValue] = {}
    """Added to the span's start attributes (not to the metrics: ids would make their cardinality unbounded)."""


Route = Callable[[Any], "Endpoint | Specifics | None"]
"""The SDK's ``FinalRequestOptions`` → what the call is (``None``: not traced)."""


class StainlessLayout(Record):
    """Where an SDK generated from the Stainless template keeps what aigw-trace patches, relative to its package.

    Every release of both SDKs (openai 1.26 to 3.x, anthropic 0.40 to 2.x) has this layout; it is declared once here,
    and a provider states it only if its SDK differs."""

    __slots__ = ("async_client", "async_stream", "base_client_module", "raw_responses", "stream_module",
                 "sync_client", "sync_stream")  # fmt: skip

    base_client_module: str
    sync_client: str
    async_client: str
    stream_module: str
    sync_stream: str
    async_stream: str
    raw_responses: tuple[tuple[str, str], ...]
    """(module, class) of the raw-response wrappers (``with_raw_response``, ``with_streaming_response``); a release
    keeps a subset (anthropic 1.x dropped ``_legacy_response``), and those it lacks are skipped."""

    def __init__(
        self,
        base_client_module: str = "_base_client",
        sync_client: str = "SyncAPIClient",
        async_client: str = "AsyncAPIClient",
        stream_module: str = "_streaming",
        sync_stream: str = "Stream",
        async_stream: str = "AsyncStream",
        raw_responses: tuple[tuple[str, str], ...] = (
            ("_response", "BaseAPIResponse"),
            ("_legacy_response", "LegacyAPIResponse"),
        ),
    ) -> None:
        init = object.__setattr__
        init(self, "base_client_module", base_client_module)
        init(self, "sync_client", sync_client)
        init(self, "async_client", async_client)
        init(self, "stream_module", stream_module)
        init(self, "sync_stream", sync_stream)
        init(self, "async_stream", async_stream)
        init(self, "raw_responses", raw_responses)


_STAINLESS = StainlessLayout()


class Provider(Record):
    """An SDK generated from the Stainless template, and how to recognise its calls. Compared and hashed by identity
    (unlike other records); like them written out rather than a frozen ``dataclass`` (cheaper at ``instrument()``)."""

    __slots__ = ("extra_setup", "layout", "metric_attributes", "name", "package", "provider_name", "route", "supported")

    name: str
    """Default ``gen_ai.provider.name``."""
    package: str
    """Top-level module; its absence means the SDK is not installed."""
    supported: str
    """The releases traced, as a requirement (``"openai >= 1.26.0, < 4"``): the one place the range is stated. The
    package's extras and ``instruments-any`` metadata repeat it (a test keeps them equal), ``instrument()`` skips
    any other release with one line, and ``opentelemetry-instrument`` reads it from the metadata."""
    route: Route
    """The SDK's ``FinalRequestOptions`` (``method``, ``url``, ``json_data``, …) → endpoint (with :class:`Specifics`
    when the call names ids of its own), or ``None`` for calls this provider does not trace. Runs on every call:
    keep it a dict lookup where possible, and never build an :class:`Endpoint` in it."""
    layout: StainlessLayout
    """Where the generated SDK keeps what is patched; the template's own layout unless an SDK differs."""
    provider_name: Callable[[Any], str] | None
    """Per client class (result cached by class): e.g. ``azure.ai.openai`` for the Azure client."""
    extra_setup: Callable[[Any], Callable[[], None]] | None
    """Optional SDK-specific patching, given the live instrumentation; returns its undo function."""
    metric_attributes: tuple[str, ...]
    """Response attributes the provider's conventions add to its metrics (``openai.md``: the service tier and system
    fingerprint), taken from the call's span attributes when the response had them."""

    def __init__(
        self,
        name: str,
        package: str,
        supported: str,
        route: Route,
        layout: StainlessLayout = _STAINLESS,
        provider_name: Callable[[Any], str] | None = None,
        extra_setup: Callable[[Any], Callable[[], None]] | None = None,
        metric_attributes: tuple[str, ...] = (),
    ) -> None:
        init = object.__setattr__
        init(self, "metric_attributes", metric_attributes)
        init(self, "name", name)
        init(self, "package", package)
        init(self, "supported", supported)
        init(self, "route", route)
        init(self, "layout", layout)
        init(self, "provider_name", provider_name)
        init(self, "extra_setup", extra_setup)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def version_problem(self) -> str | None:
        """Why the installed release is not traced (one line), or ``None`` when it is in :attr:`supported`."""
        from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

        conflict = get_dependency_conflicts([self.supported])
        if conflict is None:
            return None
        found = conflict.found or "no installed release found"
        return f"aigw-trace: {found} is not traced (supported: {self.supported}); its calls go on untraced"
