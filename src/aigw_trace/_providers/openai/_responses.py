"""The OpenAI Responses API: tables, content, and the event-stream fold; ``responses.retrieve`` too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _attributes as A
from .._spec import Content, Endpoint, Field, Messages, Usage
from .._values import as_float, as_int, as_str, dig
from ._chat import OUTPUT_TYPES, _content_parts, _json_or_text, _requested_tier

# --- Responses API ---

_CLIENT_TOOL_CALLS = frozenset(
    {"function_call", "custom_tool_call", "computer_call", "local_shell_call", "shell_call", "apply_patch_call"}
)
"""Output items the caller's code executes; any other ``*_call`` item ran on OpenAI's side (web search, MCP, …)."""

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _responses_finish_reasons(response: Any) -> list[str] | None:
    """The Responses API has a status, not finish reasons: map it onto the conventions' values."""
    status = dig(response, ("status",))
    if status == "completed":
        output = dig(response, ("output",))
        if isinstance(output, list) and any(_is_client_tool_call(item) for item in output):
            return ["tool_call"]
        return ["stop"]
    if status == "incomplete":
        reason = dig(response, ("incomplete_details", "reason"))
        return [_INCOMPLETE_REASONS.get(reason, reason) if isinstance(reason, str) else "error"]
    if status in ("failed", "cancelled"):
        return ["error"]
    return None  # queued or in progress (background mode): nothing has finished yet


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_client_tool_call(item: Any) -> bool:
    kind = dig(item, ("type",))
    return isinstance(kind, str) and kind in _CLIENT_TOOL_CALLS


def _item_parts(item: Any) -> list[dict[str, Any]]:
    """One Responses input or output item as parts of the conventions' schema."""
    kind = dig(item, ("type",))
    if kind == "message":
        return _content_parts(dig(item, ("content",)))
    if not isinstance(kind, str):
        return []
    if kind in _CLIENT_TOOL_CALLS:
        part: dict[str, Any] = {"type": "tool_call", "id": dig(item, ("call_id",))}
        part["name"] = dig(item, ("name",)) or kind.removesuffix("_call")
        if kind == "function_call":
            part["arguments"] = _json_or_text(dig(item, ("arguments",)))
        elif kind == "custom_tool_call":
            part["arguments"] = dig(item, ("input",))
        return [part]
    if kind == "reasoning":
        texts = [dig(s, ("text",)) for s in _list(dig(item, ("summary",)))]
        texts += [dig(c, ("text",)) for c in _list(dig(item, ("content",)))]
        text = "\n".join(t for t in texts if isinstance(t, str) and t)
        return [{"type": "reasoning", "content": text}] if text else []
    if kind.endswith("_call"):
        name = dig(item, ("name",)) or kind.removesuffix("_call")
        return [
            {"type": "server_tool_call", "id": dig(item, ("id",)), "name": name, "server_tool_call": {"type": kind}}
        ]
    return [{"type": kind}]


def _responses_inputs(body: Mapping[str, Any]) -> tuple[Messages | None, Messages | None, Messages | None]:
    instructions = as_str(body.get("instructions"))
    system: Messages | None = [{"type": "text", "content": instructions}] if instructions else None
    value = body.get("input")
    messages: Messages = []
    if isinstance(value, str):
        messages.append({"role": "user", "parts": [{"type": "text", "content": value}]})
    elif isinstance(value, list):
        for item in value:
            kind = dig(item, ("type",))
            role = dig(item, ("role",))
            if isinstance(kind, str) and kind.endswith("_call_output"):
                response = {
                    "type": "tool_call_response",
                    "id": dig(item, ("call_id",)),
                    "response": dig(item, ("output",)),
                }
                messages.append({"role": "tool", "parts": [response]})
            elif role is not None and kind in (None, "message"):
                messages.append({"role": role, "parts": _content_parts(dig(item, ("content",)))})
            elif kind != "item_reference":  # a reference names a stored item; its content is not in the request
                parts = _item_parts(item)
                if parts:
                    messages.append({"role": "assistant", "parts": parts})
    tools: Messages = []
    for tool in _list(body.get("tools")):
        kind = dig(tool, ("type",))
        definition: dict[str, Any] = {"type": kind, "name": dig(tool, ("name",)) or kind}
        description = dig(tool, ("description",))
        if isinstance(description, str):
            definition["description"] = description
        tools.append(definition)
    return system, messages or None, tools or None


def _no_inputs(body: Mapping[str, Any]) -> tuple[Messages | None, Messages | None, Messages | None]:
    return None, None, None


def _responses_outputs(response: Any) -> Messages | None:
    output = dig(response, ("output",))
    if not isinstance(output, list):
        return None
    parts = [part for item in output for part in _item_parts(item)]
    if not parts:
        return None
    reasons = _responses_finish_reasons(response)
    return [{"role": "assistant", "parts": parts, "finish_reason": reasons[0] if reasons else "error"}]


_RESPONSE_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)
"""Events that carry the whole response object; the last one seen is the stream's response."""

_TERMINAL_STATUSES = frozenset({"completed", "incomplete", "failed", "cancelled"})


class ResponsesStream:
    """Folds the Responses event stream into a ``Response``-shaped summary.

    Per event it reads one attribute: the terminal events (``response.completed``/``failed``/``incomplete``)
    carry the full response, usage and error included, so nothing needs assembling from deltas.
    """

    __slots__ = ("_capture", "_error", "_items", "_keys", "_response")

    _OWN_KEYS = ("status", "incomplete_details", "usage", "error", "output")
    """Read by the endpoint's finish-reason, error, usage and content readers, beside the table's keys."""

    def __init__(self, capture: bool, carried: tuple[str, ...]) -> None:
        self._capture = capture
        self._keys = tuple(dict.fromkeys((*carried, *self._OWN_KEYS)))
        self._response: Any = None
        self._error: Any = None
        self._items: list[Any] = []

    def add(self, event: Any) -> None:
        # getattr with defaults: a gateway's odd event is skipped here rather than reported as a failure.
        kind = getattr(event, "type", None)
        if kind.__class__ is not str:
            return
        if kind in _RESPONSE_EVENTS:
            response = getattr(event, "response", None)
            if response is not None:
                self._response = response
        elif kind == "error":
            self._error = event
        elif self._capture and kind == "response.output_item.done":
            item = getattr(event, "item", None)
            if item is not None:
                self._items.append(item)

    def result(self) -> Any:
        response = self._response
        summary: dict[str, Any] = {key: dig(response, (key,)) for key in self._keys}
        if self._error is not None:
            # An `error` event ends the stream without a `response.failed`: the SDK does not raise for it, so
            # the summary carries it where the endpoint's error path reads it.
            if summary["error"] is None:
                summary["error"] = {"code": getattr(self._error, "code", None)}
            status = summary["status"]
            if not (isinstance(status, str) and status in _TERMINAL_STATUSES):
                summary["status"] = "failed"
        if self._items and not summary["output"]:
            summary["output"] = self._items  # cut short before the terminal event: what was completed so far
        return summary


# --- endpoints ---

RESPONSES_FIELDS = (
    Field(("id",), A.RESPONSE_ID),
    Field(("model",), A.RESPONSE_MODEL),
    Field(("service_tier",), A.OPENAI_RESPONSE_SERVICE_TIER),
)

RESPONSES_USAGE = Usage(
    input=("input_tokens",),
    output=("output_tokens",),
    cache_read=("input_tokens_details", "cached_tokens"),
    cache_creation=("input_tokens_details", "cache_write_tokens"),
    reasoning=("output_tokens_details", "reasoning_tokens"),
)

RESPONSES = Endpoint(
    operation="chat",
    attributes={A.OPENAI_API_TYPE: "responses"},
    request=(
        Field(("temperature",), A.REQUEST_TEMPERATURE, as_float),
        Field(("top_p",), A.REQUEST_TOP_P, as_float),
        Field(("max_output_tokens",), A.REQUEST_MAX_TOKENS, as_int),
        Field(("service_tier",), A.OPENAI_REQUEST_SERVICE_TIER, _requested_tier),
        Field(("conversation",), A.CONVERSATION_ID),  # an id, or a conversation object with one
        Field(("conversation", "id"), A.CONVERSATION_ID),
        Field(("previous_response_id",), A.REQUEST_PREVIOUS_RESPONSE_ID),
        Field(("text", "format", "type"), A.OUTPUT_TYPE, OUTPUT_TYPES),
        Field(("reasoning", "effort"), A.REQUEST_REASONING_LEVEL),
    ),
    response=RESPONSES_FIELDS,
    usage=RESPONSES_USAGE,
    finish_reasons=_responses_finish_reasons,
    error="error",
    stream=ResponsesStream,
    content=Content(inputs=_responses_inputs, outputs=_responses_outputs),
)
"""``responses.create``/``parse``/``stream()``. A failed response (``status: failed`` with an ``error``, or a
``response.failed``/``error`` event) is an ERROR with ``error.type`` = its error code."""

FETCH_RESPONSE = Endpoint(
    operation=A.OPERATION_FETCH_RESPONSE,
    attributes={A.OPENAI_API_TYPE: "responses"},
    response=RESPONSES_FIELDS,
    finish_reasons=_responses_finish_reasons,
    error="error",
    stream=ResponsesStream,
    content=Content(inputs=_no_inputs, outputs=_responses_outputs),
)
"""``responses.retrieve`` (and ``responses.stream(response_id=…)``): reads back a response another call created, so
no token usage: polling a background response would count its tokens once per poll."""
