"""The ``anthropic`` SDK (0.40 to 2.x), described as data for the shared machinery.

anthropic 1.14 and later trace themselves: ``request()`` starts one CLIENT span per API call
(``anthropic.messages.create``, …) through the module-level ``start_api_call_span`` of ``anthropic._base_client``,
and injects that span's context into each attempt. aigw-trace takes that span's place rather than adding a second
one: while one of our calls is current, ``start_api_call_span`` answers ``None``, which is the SDK's own "no span
for this call" signal, so the SDK makes no span and injects nothing; the shared machinery makes the one span and
injects it. Why, and what changes for a user of the native tracing, is in ``docs/anthropic.md``.

From 1.x every SDK method names its call (``options.span_name``), so calls are routed by that name with one dict
lookup: the Messages API (``create``, ``stream()``, ``parse``, stable and beta) is a ``chat`` with full tables;
every other method gets a plain CLIENT span whose operation is the method's name (``messages.count_tokens``,
``messages.batches.create``, ``files.list``). A request without such a name (anthropic 0.x, or ``client.post(...)``)
is routed by its path.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.util.types import AttributeValue

from .. import _attributes as A
from .._call import current_call
from .._safety import report
from ._spec import (
    Content,
    Endpoint,
    Field,
    Messages,
    Param,
    Provider,
    Specifics,
    Usage,
    as_float,
    as_int,
    as_str,
    as_str_list,
    dig,
)

_log = logging.getLogger("aigw_trace")

# --- content in the conventions' part schema ---

_SEQUENCES = (list, tuple)
"""Only these are walked: a request may carry a one-shot iterable that the SDK has yet to read."""


def _source_part(source: Any, modality: str) -> dict[str, Any]:
    """An ``image``/``document`` block's ``source``: inline data, a URL or an uploaded file."""
    kind = dig(source, ("type",))
    if kind == "base64":
        return {
            "type": "blob",
            "modality": modality,
            "mime_type": dig(source, ("media_type",)),
            "content": dig(source, ("data",)),
        }
    if kind == "url":
        return {"type": "uri", "modality": modality, "uri": dig(source, ("url",))}
    if kind == "file":
        return {"type": "file", "modality": modality, "file_id": dig(source, ("file_id",))}
    if kind == "text":
        return {"type": "text", "content": dig(source, ("data",))}
    return {"type": modality}


def _tool_result(content: Any) -> Any:
    return _parts(content) if isinstance(content, _SEQUENCES) else content


def _part(block: Any) -> dict[str, Any]:
    kind = dig(block, ("type",))
    if kind == "text":
        return {"type": "text", "content": dig(block, ("text",))}
    if kind == "tool_use":
        return {"type": "tool_call", "id": dig(block, ("id",)), "name": dig(block, ("name",)),
                "arguments": dig(block, ("input",))}  # fmt: skip
    if kind == "tool_result":
        return {"type": "tool_call_response", "id": dig(block, ("tool_use_id",)),
                "response": _tool_result(dig(block, ("content",)))}  # fmt: skip
    if kind == "thinking":
        return {"type": "reasoning", "content": dig(block, ("thinking",))}
    if kind == "image":
        return _source_part(dig(block, ("source",)), "image")
    if kind == "document":
        return _source_part(dig(block, ("source",)), "document")
    if kind in ("server_tool_use", "mcp_tool_use"):
        name = dig(block, ("name",))
        return {"type": "server_tool_call", "id": dig(block, ("id",)), "name": name,
                "server_tool_call": {"type": name, "arguments": dig(block, ("input",))}}  # fmt: skip
    if isinstance(kind, str) and kind.endswith("_tool_result"):
        return {"type": "server_tool_call_response", "id": dig(block, ("tool_use_id",)),
                "server_tool_call_response": {"type": kind, "content": dig(block, ("content",))}}  # fmt: skip
    # redacted_thinking (opaque, encrypted), container_upload, search results: named, not copied
    return {"type": kind if isinstance(kind, str) else "unknown"}


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, _SEQUENCES):
        return []
    return [_part(block) for block in content]


def _tool_definition(tool: Any) -> dict[str, Any]:
    kind = dig(tool, ("type",))
    if kind is None or kind == "custom":
        definition: dict[str, Any] = {"type": "function", "name": dig(tool, ("name",))}
        description = dig(tool, ("description",))
        if isinstance(description, str):
            definition["description"] = description
        return definition
    # A server tool (``web_search_20250305``, ``bash_20250124``, …): its versioned type says what it is.
    return {"type": kind, "name": dig(tool, ("name",))}


def _messages_inputs(body: Mapping[str, Any]) -> tuple[Messages | None, Messages | None, Messages | None]:
    # Anthropic keeps the system prompt out of the history, so it is ``gen_ai.system_instructions``.
    system = _parts(body.get("system")) or None
    messages: Messages = []
    history = body.get("messages")
    if isinstance(history, _SEQUENCES):
        for message in history:
            messages.append({"role": dig(message, ("role",)), "parts": _parts(dig(message, ("content",)))})
    tools = body.get("tools")
    definitions = [_tool_definition(t) for t in tools] if isinstance(tools, _SEQUENCES) else []
    return system, messages or None, definitions or None


def _stop_reason(response: Any) -> str | None:
    return as_str(dig(response, ("stop_reason",)))


def _messages_outputs(response: Any) -> Messages | None:
    content = dig(response, ("content",))
    if not isinstance(content, _SEQUENCES):
        return None
    # The conventions' finish_reason takes any string; the provider's own value keeps it equal to finish_reasons.
    return [{"role": "assistant", "parts": _parts(content), "finish_reason": _stop_reason(response) or "error"}]


def _finish_reasons(response: Any) -> list[str] | None:
    reason = _stop_reason(response)
    return [reason] if reason is not None else None


def _is_json_schema(fmt: Any) -> bool:
    return isinstance(fmt, dict) and fmt.get("type") == "json_schema"


def _output_config(config: Any, attrs: dict[str, AttributeValue]) -> None:
    # A parameter left out is the SDK's ``Omit`` sentinel, not a dict: the type checks come first (and are cheap).
    if isinstance(config, dict):
        if _is_json_schema(config.get("format")):
            attrs[A.OUTPUT_TYPE] = "json"
        effort = as_str(config.get("effort"))
        if effort is not None:
            attrs[A.REQUEST_REASONING_LEVEL] = effort


def _json_output(fmt: Any) -> str | None:
    return "json" if _is_json_schema(fmt) else None


def _thinking(thinking: Any, attrs: dict[str, AttributeValue]) -> None:
    if isinstance(thinking, dict):
        kind = as_str(thinking.get("type"))
        if kind is not None:
            attrs[A.ANTHROPIC_THINKING_TYPE] = kind
        budget = as_int(thinking.get("budget_tokens"))
        if budget is not None:
            attrs[A.ANTHROPIC_THINKING_BUDGET_TOKENS] = budget


# --- message streams ---

_USAGE_FROM_START = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "service_tier")
_USAGE_FROM_DELTA = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _str(value: Any) -> str:
    return value if value.__class__ is str else ""


_DELTA_FIELDS = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}
"""A content block delta's type → the field holding its piece. signature_delta and citations_delta carry nothing
the conventions have a place for."""


class MessageStreamSummary:
    """Folds raw Messages stream events into a ``Message``-shaped summary.

    ``message_start`` carries the id, the model and the input side of the usage; ``message_delta`` the stop reason and
    the final (cumulative) output count, plus any input counts that changed. A stream that ends before
    ``message_delta`` reports neither output tokens nor a stop reason: ``message_start`` only has placeholders for
    them. Content blocks are assembled only while content is captured.
    """

    __slots__ = ("_blocks", "_carried", "_delta", "_start")

    def __init__(self, capture: bool, carried: tuple[str, ...]) -> None:
        self._carried = carried
        """Copied from ``message_start``'s message: the response table's own keys (``Endpoint.carried``)."""
        self._start: Any = None
        self._delta: Any = None
        self._blocks: dict[int, list[Any]] | None = {} if capture else None
        """index → [content_block_start's block, its text/thinking/input_json pieces…]."""

    def add(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            if self._blocks is not None:
                self._add_delta(event)
        elif kind == "message_start":
            self._start = event.message
        elif kind == "message_delta":
            self._delta = event
        elif kind == "content_block_start" and self._blocks is not None:
            index = getattr(event, "index", None)
            if index.__class__ is int:
                self._blocks[index] = [getattr(event, "content_block", None)]

    def _add_delta(self, event: Any) -> None:
        # Content capture only: an odd delta costs only its own piece.
        assert self._blocks is not None
        index = getattr(event, "index", None)
        pieces = self._blocks.get(index) if index.__class__ is int else None
        if pieces is None:
            return
        delta = getattr(event, "delta", None)
        kind = getattr(delta, "type", None)
        field = _DELTA_FIELDS.get(kind) if kind.__class__ is str else None
        if field is not None:
            piece = getattr(delta, field, None)
            if piece.__class__ is str:
                pieces.append(piece)

    def result(self) -> Any:
        start, delta = self._start, self._delta
        usage: dict[str, Any] = {}
        start_usage = dig(start, ("usage",))
        if start_usage is not None:
            for key in _USAGE_FROM_START:
                usage[key] = getattr(start_usage, key, None)
        stop_reason = None
        if delta is not None:
            stop_reason = dig(delta, ("delta", "stop_reason"))
            delta_usage = dig(delta, ("usage",))
            if delta_usage is not None:
                usage["output_tokens"] = getattr(delta_usage, "output_tokens", None)
                usage["output_tokens_details"] = getattr(delta_usage, "output_tokens_details", None)
                for key in _USAGE_FROM_DELTA:
                    value = getattr(delta_usage, key, None)
                    if value is not None:  # left out when unchanged: message_start's value stands
                        usage[key] = value
        return {
            **{key: dig(start, (key,)) for key in self._carried},
            "stop_reason": stop_reason,
            "usage": usage or None,
            "content": self._content_or_none(),
        }

    def _content_or_none(self) -> list[Any] | None:
        # Content is the opt-in part: if it cannot be assembled, the rest of the summary still stands.
        try:
            return self._content()
        except Exception as exc:
            report("assembling streamed content", exc)
            return None

    def _content(self) -> list[Any] | None:
        if self._blocks is None or self._start is None:  # nothing was said: no output message, not an empty one
            return None
        blocks: list[Any] = []
        for index in sorted(self._blocks):
            block, *pieces = self._blocks[index]
            kind = dig(block, ("type",))
            text = "".join(pieces)
            if kind == "text":
                blocks.append({"type": "text", "text": _str(dig(block, ("text",))) + text})
            elif kind == "thinking":
                blocks.append({"type": "thinking", "thinking": _str(dig(block, ("thinking",))) + text})
            elif kind in ("tool_use", "server_tool_use", "mcp_tool_use"):
                arguments: Any = dig(block, ("input",))
                if text:
                    try:
                        arguments = json.loads(text)
                    except ValueError:
                        arguments = text
                blocks.append({"type": kind, "id": dig(block, ("id",)), "name": dig(block, ("name",)),
                               "input": arguments})  # fmt: skip
            else:
                blocks.append(block)
        return blocks


# --- endpoints ---

MESSAGES = Endpoint(
    operation="chat",
    request=(
        Field(("max_tokens",), A.REQUEST_MAX_TOKENS, as_int),
        Field(("stop_sequences",), A.REQUEST_STOP_SEQUENCES, as_str_list),
        # Not keywords of anthropic 2.x: they only travel in ``extra_body``, which the core merges into the body.
        Field(("temperature",), A.REQUEST_TEMPERATURE, as_float),
        Field(("top_p",), A.REQUEST_TOP_P, as_float),
        Field(("top_k",), A.REQUEST_TOP_K, as_float),  # a double in the released conventions
        Param("output_config", _output_config),
        Field(("output_format",), A.OUTPUT_TYPE, _json_output),  # the deprecated spelling of output_config.format
        Field(("service_tier",), A.ANTHROPIC_REQUEST_SERVICE_TIER),
        Param("thinking", _thinking),
    ),
    response=(
        Field(("id",), A.RESPONSE_ID),
        Field(("model",), A.RESPONSE_MODEL),
        Field(("usage", "service_tier"), A.ANTHROPIC_RESPONSE_SERVICE_TIER),
    ),
    usage=Usage(
        input=("input_tokens",),
        output=("output_tokens",),
        cache_read=("cache_read_input_tokens",),
        cache_creation=("cache_creation_input_tokens",),
        reasoning=("output_tokens_details", "thinking_tokens"),
        input_excludes_cache=True,
    ),
    finish_reasons=_finish_reasons,
    error="error",
    stream=MessageStreamSummary,
    content=Content(inputs=_messages_inputs, outputs=_messages_outputs),
)
"""``messages.create`` / ``stream()`` / ``parse``, stable and beta, on every client (Bedrock and Vertex included)."""

COUNT_TOKENS = Endpoint(
    operation="messages.count_tokens",
    response=(Field(("input_tokens",), A.ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS, as_int),),
)
"""Span ``messages.count_tokens {model}``; it consumes no tokens, so it reports no usage."""

_PREFIX = "anthropic."

_BY_SPAN_NAME: dict[str, Endpoint] = {
    "anthropic.messages.create": MESSAGES,
    "anthropic.messages.count_tokens": COUNT_TOKENS,
}
"""SDK span name → endpoint. Other names are added on first use: the SDK's code fixes the set (a few hundred), so it
stays bounded, and no id ever reaches a name."""

_MESSAGES_PATHS = frozenset({"/v1/messages", "/v1/messages?beta=true"})

_BY_METHOD = {m: Endpoint(operation=f"http.{m}") for m in ("get", "post", "put", "patch", "delete")}
_OTHER_METHOD = Endpoint(operation="http.request")


def _by_span_name(name: str) -> Endpoint:
    endpoint = _BY_SPAN_NAME.get(name)
    if endpoint is None:
        endpoint = _BY_SPAN_NAME[name] = Endpoint(operation=name.removeprefix(_PREFIX))
    return endpoint


def _method_attributes(endpoint: Endpoint, options: Any) -> Endpoint | Specifics:
    """The SDK method's own attributes for its span (a batch's or a file's id, a batch's request count)."""
    extra = getattr(options, "span_attributes", None)
    if callable(extra):
        extra = extra(options.json_data)
    if not isinstance(extra, Mapping) or not extra:
        return endpoint
    kept = {k: v for k, v in extra.items() if isinstance(k, str) and isinstance(v, (str, bool, int, float))}
    return Specifics(endpoint, None, kept) if kept else endpoint


def route(options: Any) -> Endpoint | Specifics:
    name = getattr(options, "span_name", None)
    if name is not None:
        endpoint = _by_span_name(name)
        if endpoint is MESSAGES:
            return endpoint
        return _method_attributes(endpoint, options)
    method = options.method.lower()
    if method == "post" and options.url in _MESSAGES_PATHS:
        return MESSAGES
    return _BY_METHOD.get(method, _OTHER_METHOD)


def _provider_name(client: Any) -> str:
    # The SDK's own per-class answer (``aws.bedrock`` for AnthropicBedrock, ``gcp.vertex_ai`` for AnthropicVertex).
    name = getattr(client, "_gen_ai_provider_name", None)
    if isinstance(name, str) and name:
        return name
    modules = [cls.__module__ for cls in type(client).__mro__]
    if any(".lib.bedrock" in m for m in modules):
        return "aws.bedrock"
    if any(".lib.vertex" in m for m in modules):
        return "gcp.vertex_ai"
    return "anthropic"


# --- the native span ---


def _native_span(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_api_call_span(*args: Any, **kwargs: Any) -> Any:
        # ``None`` is the SDK's answer for "this call has no span": it then neither starts one nor touches trace
        # headers.
        call = current_call()
        if call is not None:
            if call.span.get_span_context().is_valid:
                return None  # the one span is ours (sampled or not)
            # aigw-trace records into the API's no-op provider (none was set up): a span the client sends to its own
            # tracer_provider is then the only one there can be, so the SDK keeps it, and its trace headers.
        elif not is_instrumentation_enabled():
            return None  # suppress_instrumentation() means no span at all, the SDK's included
        return original(*args, **kwargs)

    return start_api_call_span


def _take_the_native_span_place() -> Callable[[], None]:
    import anthropic._base_client as base

    from .._patch import patch

    if callable(getattr(base, "start_api_call_span", None)):
        return patch(base, "start_api_call_span", _native_span)
    if importlib.util.find_spec("anthropic._tracing") is not None:
        # A release that traces itself some other way would give every call two spans: say so rather than
        # double-count. Releases before 1.14 have no tracing of their own, and nothing to say.
        _log.warning(
            "aigw-trace: this anthropic version's own tracing is not recognised; if it traces API calls, set "
            "ANTHROPIC_OPEN_TELEMETRY=false so that each call has one span, not two"
        )
    return lambda: None


def _version_specific_setup(instrumentation: Any) -> Callable[[], None]:
    return _take_the_native_span_place()


PROVIDER = Provider(
    name="anthropic",
    package="anthropic",
    # 0.40 is the oldest release whose own default client works with current httpx (0.28 dropped `proxies=`).
    supported="anthropic >= 0.40.0, < 3",
    route=route,
    provider_name=_provider_name,
    extra_setup=_version_specific_setup,
)
