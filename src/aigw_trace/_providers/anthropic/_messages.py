"""The Messages API (``create``, ``stream()``, ``parse``, stable and beta): request and response tables, content in
the conventions' schema, the stream fold; and ``count_tokens``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import _attributes as A
from ..._safety import report
from .._spec import Content, Endpoint, Field, Messages, Usage
from .._values import as_float, as_int, as_str, as_str_list, dig, mapped

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


_JSON_OUTPUT = mapped({"json_schema": "json"})
"""A structured-output format's type as the conventions' ``gen_ai.output.type``."""


# --- message streams ---

_USAGE_FROM_START = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "service_tier")
_USAGE_FROM_DELTA = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def _get(obj: Any, key: str) -> Any:
    """One step of ``dig``: an attribute, or a dict's key; ``None`` when missing (``None`` has none of our keys)."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


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
        try:
            kind = event.type  # a plain read: every event of the SDK has it (getattr's default costs a call)
        except AttributeError:
            kind = None
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
        # Once per stream, but at its end, when this code is cold: one step per value (``_get``), not ``dig``'s loop.
        start, delta = self._start, self._delta
        summary: dict[str, Any] = {}
        for key in self._carried:
            summary[key] = _get(start, key)
        usage: dict[str, Any] = {}
        start_usage = _get(start, "usage")
        if start_usage is not None:
            for key in _USAGE_FROM_START:
                usage[key] = getattr(start_usage, key, None)
        stop_reason = None
        if delta is not None:
            stop_reason = _get(_get(delta, "delta"), "stop_reason")
            delta_usage = _get(delta, "usage")
            if delta_usage is not None:
                usage["output_tokens"] = getattr(delta_usage, "output_tokens", None)
                usage["output_tokens_details"] = getattr(delta_usage, "output_tokens_details", None)
                for key in _USAGE_FROM_DELTA:
                    value = getattr(delta_usage, key, None)
                    if value is not None:  # left out when unchanged: message_start's value stands
                        usage[key] = value
        summary["stop_reason"] = stop_reason
        summary["usage"] = usage or None
        summary["content"] = self._content_or_none() if self._blocks is not None else None
        return summary

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
        Field(("output_config", "format", "type"), A.OUTPUT_TYPE, _JSON_OUTPUT),
        Field(("output_config", "effort"), A.REQUEST_REASONING_LEVEL),
        Field(
            ("output_format", "type"), A.OUTPUT_TYPE, _JSON_OUTPUT
        ),  # the deprecated spelling of output_config.format
        Field(("service_tier",), A.ANTHROPIC_REQUEST_SERVICE_TIER),
        Field(("thinking", "type"), A.ANTHROPIC_THINKING_TYPE),
        Field(("thinking", "budget_tokens"), A.ANTHROPIC_THINKING_BUDGET_TOKENS, as_int),
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
