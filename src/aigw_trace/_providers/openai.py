"""The ``openai`` SDK (3.x), described as data for the shared machinery.

Four endpoint families are inference calls with full tables: chat completions, the Responses API, legacy
completions and embeddings (exact paths in :data:`ROUTES`). A few more have a conventional operation (retrieval,
agents). Every other endpoint the SDK can call is matched against :data:`TEMPLATES` and gets a plain CLIENT span
named after the endpoint, so no request reaches a gateway without the caller's trace context.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from .. import _attributes as A
from ._spec import (
    Content,
    Endpoint,
    Field,
    Messages,
    Provider,
    Specifics,
    Usage,
    as_float,
    as_int,
    as_str,
    as_str_list,
    dig,
)

# --- shared readers ---


def _choice_count(value: Any) -> int | None:
    n = as_int(value)
    return n if n != 1 else None


def _requested_tier(value: Any) -> str | None:
    tier = as_str(value)
    return tier if tier != "auto" else None


def _format_output_type(fmt: Any) -> str | None:
    kind = dig(fmt, ("type",))
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    return None


def _speech_output(modalities: Any) -> str | None:
    return "speech" if isinstance(modalities, list) and "audio" in modalities else None


def _chat_finish_reasons(response: Any) -> list[str] | None:
    choices = response.get("choices") if response.__class__ is dict else getattr(response, "choices", None)
    if not isinstance(choices, list):
        return None
    reasons = []
    for choice in choices:
        reason = choice.get("finish_reason") if choice.__class__ is dict else getattr(choice, "finish_reason", None)
        if isinstance(reason, str):
            reasons.append(reason)
    return reasons or None


# --- content in the conventions' part schema ---


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    if not isinstance(content, list):
        return parts
    for item in content:
        kind = dig(item, ("type",))
        if kind in ("text", "input_text", "output_text", "refusal"):
            parts.append({"type": "text", "content": dig(item, ("text",)) or dig(item, ("refusal",)) or ""})
        elif kind == "image_url":
            url = dig(item, ("image_url", "url"))
            if isinstance(url, str) and url.startswith("data:"):
                mime = url[5:].split(";", 1)[0] or None
                parts.append({"type": "blob", "modality": "image", "mime_type": mime, "content": url.split(",", 1)[-1]})
            else:
                parts.append({"type": "uri", "modality": "image", "uri": url})
        elif kind == "input_audio":
            fmt = dig(item, ("input_audio", "format"))
            parts.append(
                {
                    "type": "blob",
                    "modality": "audio",
                    "mime_type": f"audio/{fmt}" if fmt else None,
                    "content": dig(item, ("input_audio", "data")),
                }
            )
        elif kind == "file":
            parts.append({"type": "file", "modality": "file", "file_id": dig(item, ("file", "file_id"))})
        elif kind == "input_image":
            parts.append(_reference_part(item, "image", ("image_url",)))
        elif kind == "input_file":
            parts.append(_reference_part(item, "file", ("file_url", "file_data")))
        elif isinstance(kind, str):
            parts.append({"type": kind})
    return parts


def _reference_part(item: Any, modality: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """A Responses ``input_image``/``input_file``: an uploaded file id, a URL, or inline data."""
    file_id = dig(item, ("file_id",))
    if isinstance(file_id, str):
        return {"type": "file", "modality": modality, "file_id": file_id}
    for key in keys:
        value = dig(item, (key,))
        if not isinstance(value, str):
            continue
        if value.startswith("data:"):
            mime = value[5:].split(";", 1)[0] or None
            return {"type": "blob", "modality": modality, "mime_type": mime, "content": value.split(",", 1)[-1]}
        if key == "file_data":
            return {"type": "blob", "modality": modality, "content": value}
        return {"type": "uri", "modality": modality, "uri": value}
    return {"type": dig(item, ("type",))}


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    if not isinstance(tool_calls, list):
        return []
    return [
        {
            "type": "tool_call",
            "id": dig(call, ("id",)),
            "name": dig(call, ("function", "name")),
            "arguments": _json_or_text(dig(call, ("function", "arguments"))),
        }
        for call in tool_calls
    ]


def _chat_inputs(body: Mapping[str, Any]) -> tuple[Messages | None, Messages | None, Messages | None]:
    messages: Messages = []
    for message in body.get("messages") or ():
        role = dig(message, ("role",))
        if role == "tool":
            parts: list[dict[str, Any]] = [
                {
                    "type": "tool_call_response",
                    "id": dig(message, ("tool_call_id",)),
                    "response": dig(message, ("content",)),
                }
            ]
        else:
            parts = _content_parts(dig(message, ("content",))) + _tool_call_parts(dig(message, ("tool_calls",)))
        entry: dict[str, Any] = {"role": role, "parts": parts}
        name = dig(message, ("name",))
        if isinstance(name, str):
            entry["name"] = name
        messages.append(entry)
    tools: Messages = []
    for tool in body.get("tools") or ():
        name = dig(tool, ("function", "name")) or dig(tool, ("name",))
        definition: dict[str, Any] = {"type": dig(tool, ("type",)) or "function", "name": name}
        description = dig(tool, ("function", "description"))
        if isinstance(description, str):
            definition["description"] = description
        tools.append(definition)
    return None, messages or None, tools or None


def _chat_outputs(response: Any) -> Messages | None:
    choices = dig(response, ("choices",))
    if not isinstance(choices, list):
        return None
    out: Messages = []
    for choice in choices:
        message = dig(choice, ("message",))
        parts = _content_parts(dig(message, ("content",))) + _tool_call_parts(dig(message, ("tool_calls",)))
        out.append(
            {
                "role": dig(message, ("role",)) or "assistant",
                "parts": parts,
                "finish_reason": dig(choice, ("finish_reason",)) or "error",
            }
        )
    return out


# --- chat streams ---


class ChatStream:
    """Folds ``chat.completion.chunk`` items into a ``chat.completion``-shaped summary: id, model, usage and each
    choice's finish reason. Its ``add`` runs once per chunk, so a content chunk costs two attribute reads (attributes
    of SDK models are not cheap); usage is read where it can be, on a chunk without choices or one that finishes a
    choice. :class:`ChatContentStream` also assembles the content when capture is on."""

    __slots__ = ("_carried", "_choices", "_last", "_usage")

    def __init__(self, carried: tuple[str, ...]) -> None:
        self._carried = carried
        """What the summary copies from the last chunk: the response table's own keys (``Endpoint.carried``)."""
        self._last: Any = None
        self._usage: Any = None
        self._choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: Any) -> None:
        self._last = chunk
        choices = getattr(chunk, "choices", None)
        if choices:
            for choice in choices:
                # getattr with defaults: a gateway's odd choice (null, a string) costs only itself.
                reason = getattr(choice, "finish_reason", None)
                if reason is not None:
                    self._finished(chunk, getattr(choice, "index", None), reason)
        else:
            # The usage chunk (`stream_options.include_usage`) has no choices.
            self._take_usage(chunk)

    def _finished(self, chunk: Any, index: Any, reason: str) -> None:
        self._state(index)["finish_reason"] = reason
        # Gateways that report usage without a separate chunk put it on the one that finishes.
        self._take_usage(chunk)

    def _take_usage(self, chunk: Any) -> None:
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self._usage = usage

    def _state(self, index: Any) -> dict[str, Any]:
        if index.__class__ is not int:
            # A gateway that leaves the index out (or sends another type) streams one choice: the first.
            index = 0
        state = self._choices.get(index)
        if state is None:
            state = self._choices[index] = {"finish_reason": None, "text": [], "tools": {}}
        return state

    @staticmethod
    def _collect(state: dict[str, Any], choice: Any) -> None:
        # Content capture only: every field is checked, since one odd value must not cost the others.
        delta = getattr(choice, "delta", None)
        if delta is None:
            return
        content = getattr(delta, "content", None)
        if content.__class__ is str and content:
            state["text"].append(content)
        calls = getattr(delta, "tool_calls", None)
        for call in calls if isinstance(calls, (list, tuple)) else ():
            index = getattr(call, "index", 0)
            tool = state["tools"].setdefault(index if index.__class__ is int else 0,
                                             {"id": None, "name": None, "arguments": []})  # fmt: skip
            call_id = getattr(call, "id", None)
            if call_id.__class__ is str and call_id:
                tool["id"] = call_id
            fn = getattr(call, "function", None)
            if fn is not None:
                name = getattr(fn, "name", None)
                if name.__class__ is str and name:
                    tool["name"] = name
                arguments = getattr(fn, "arguments", None)
                if arguments.__class__ is str and arguments:
                    tool["arguments"].append(arguments)

    def result(self) -> Any:
        last = self._last
        choices = []
        for index in sorted(self._choices):
            state = self._choices[index]
            message: dict[str, Any] = {"role": "assistant"}
            if state["text"]:
                message["content"] = "".join(state["text"])
            if state["tools"]:
                message["tool_calls"] = [
                    {"id": t["id"], "function": {"name": t["name"], "arguments": "".join(t["arguments"])}}
                    for _, t in sorted(state["tools"].items())
                ]
            choices.append({"index": index, "finish_reason": state["finish_reason"], "message": message})
        summary = {key: getattr(last, key, None) for key in self._carried}
        summary["usage"] = self._usage
        summary["choices"] = choices
        return summary


class ChatContentStream(ChatStream):
    """A :class:`ChatStream` that also assembles each choice's text and tool calls (content capture on)."""

    __slots__ = ()

    def add(self, chunk: Any) -> None:
        super().add(chunk)
        for choice in getattr(chunk, "choices", None) or ():
            self._collect(self._state(getattr(choice, "index", None)), choice)


def chat_stream(capture: bool, carried: tuple[str, ...]) -> ChatStream:
    return ChatContentStream(carried) if capture else ChatStream(carried)


# --- Responses API ---

_CLIENT_TOOL_CALLS = frozenset(
    {"function_call", "custom_tool_call", "computer_call", "local_shell_call", "shell_call", "apply_patch_call"}
)
"""Output items the caller's code executes; any other ``*_call`` item ran on OpenAI's side (web search, MCP, …)."""

_INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _conversation_id(conversation: Any) -> str | None:
    return as_str(conversation) or as_str(dig(conversation, ("id",)))


def _text_output_type(text: Any) -> str | None:
    return _format_output_type(dig(text, ("format",)))


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


# --- legacy completions ---


class CompletionStream(ChatStream):
    """Folds legacy ``text_completion`` chunks into a ``Completion``-shaped summary (text instead of deltas)."""

    __slots__ = ()

    @staticmethod
    def _collect(state: dict[str, Any], choice: Any) -> None:
        text = getattr(choice, "text", None)
        if text.__class__ is str and text:
            state["text"].append(text)

    def result(self) -> Any:
        last = self._last
        return {
            **{key: getattr(last, key, None) for key in self._carried},
            "usage": self._usage,
            "choices": [
                {"index": i, "finish_reason": s["finish_reason"], "text": "".join(s["text"])}
                for i, s in sorted(self._choices.items())
            ],
        }


class CompletionContentStream(CompletionStream, ChatContentStream):
    __slots__ = ()


def completion_stream(capture: bool, carried: tuple[str, ...]) -> CompletionStream:
    return CompletionContentStream(carried) if capture else CompletionStream(carried)


def _completion_inputs(body: Mapping[str, Any]) -> tuple[Messages | None, Messages | None, Messages | None]:
    prompt = body.get("prompt")
    prompts = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, list) else []
    # Token-id prompts are not text; only string prompts are content.
    messages = [{"role": "user", "parts": [{"type": "text", "content": p}]} for p in prompts if isinstance(p, str)]
    return None, messages or None, None


def _completion_outputs(response: Any) -> Messages | None:
    choices = dig(response, ("choices",))
    if not isinstance(choices, list):
        return None
    return [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": dig(choice, ("text",)) or ""}],
            "finish_reason": dig(choice, ("finish_reason",)) or "error",
        }
        for choice in choices
    ] or None


# --- embeddings ---


def _encoding_formats(value: Any) -> list[str] | None:
    # The SDK asks for base64 when the caller names no format (and decodes it): record what is sent.
    fmt = as_str(value)
    return [fmt] if fmt is not None else None


def _dimension_count(data: Any) -> int | None:
    """Dimensions of the first returned vector: a list of floats, or base64 of little-endian float32s (raw
    responses, before the SDK decodes them)."""
    if not isinstance(data, list) or not data:
        return None
    vector = dig(data[0], ("embedding",))
    if isinstance(vector, list):
        return len(vector) or None
    if isinstance(vector, str) and vector:
        size = len(vector) * 3 // 4 - vector.count("=", -2)
        return size // 4 or None
    return None


# --- endpoints ---

SAMPLING_FIELDS = (
    Field(("temperature",), A.REQUEST_TEMPERATURE, as_float),
    Field(("top_p",), A.REQUEST_TOP_P, as_float),
    Field(("frequency_penalty",), A.REQUEST_FREQUENCY_PENALTY, as_float),
    Field(("presence_penalty",), A.REQUEST_PRESENCE_PENALTY, as_float),
    Field(("seed",), A.REQUEST_SEED, as_int),
    Field(("stop",), A.REQUEST_STOP_SEQUENCES, as_str_list),
)

CHAT_PARAMETERS = (
    Field(("n",), A.REQUEST_CHOICE_COUNT, _choice_count),
    Field(("service_tier",), A.OPENAI_REQUEST_SERVICE_TIER, _requested_tier),
    Field(("response_format",), A.OUTPUT_TYPE, _format_output_type),
    Field(("modalities",), A.OUTPUT_TYPE, _speech_output, fallback=True),  # a response format says more
)

CHAT_USAGE = Usage(
    input=("prompt_tokens",),
    output=("completion_tokens",),
    cache_read=("prompt_tokens_details", "cached_tokens"),
    reasoning=("completion_tokens_details", "reasoning_tokens"),
)

CHAT = Endpoint(
    operation="chat",
    attributes={A.OPENAI_API_TYPE: "chat_completions"},
    request=(
        *SAMPLING_FIELDS,
        *CHAT_PARAMETERS,
        Field(("max_tokens",), A.REQUEST_MAX_TOKENS, as_int, fallback=True),  # deprecated by the next one
        Field(("max_completion_tokens",), A.REQUEST_MAX_TOKENS, as_int),
    ),
    response=(
        Field(("id",), A.RESPONSE_ID),
        Field(("model",), A.RESPONSE_MODEL),
        Field(("service_tier",), A.OPENAI_RESPONSE_SERVICE_TIER),
        Field(("system_fingerprint",), A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ),
    usage=CHAT_USAGE,
    finish_reasons=_chat_finish_reasons,
    error="error",
    stream=chat_stream,
    content=Content(inputs=_chat_inputs, outputs=_chat_outputs),
)

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
        Field(("conversation",), A.CONVERSATION_ID, _conversation_id),
        Field(("previous_response_id",), A.REQUEST_PREVIOUS_RESPONSE_ID),
        Field(("text",), A.OUTPUT_TYPE, _text_output_type),
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

COMPLETIONS = Endpoint(
    operation="text_completion",
    request=(*SAMPLING_FIELDS, *CHAT_PARAMETERS, Field(("max_tokens",), A.REQUEST_MAX_TOKENS, as_int)),
    response=(
        Field(("id",), A.RESPONSE_ID),
        Field(("model",), A.RESPONSE_MODEL),
        Field(("system_fingerprint",), A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ),
    usage=CHAT_USAGE,
    finish_reasons=_chat_finish_reasons,
    error="error",
    stream=completion_stream,
    content=Content(inputs=_completion_inputs, outputs=_completion_outputs),
)

EMBEDDINGS = Endpoint(
    operation="embeddings",
    request=(
        Field(("dimensions",), A.EMBEDDINGS_DIMENSION_COUNT, as_int),
        Field(("encoding_format",), A.REQUEST_ENCODING_FORMATS, _encoding_formats),
    ),
    response=(
        Field(("model",), A.RESPONSE_MODEL),
        Field(("data",), A.EMBEDDINGS_DIMENSION_COUNT, _dimension_count),
    ),
    usage=Usage(input=("prompt_tokens",), output=None),
    error="error",
)

ROUTES: dict[tuple[str, str], Endpoint] = {
    ("post", "/chat/completions"): CHAT,
    ("post", "/responses"): RESPONSES,
    ("post", "/completions"): COMPLETIONS,
    ("post", "/embeddings"): EMBEDDINGS,
}
"""(lower-case HTTP method, request path as the SDK passes it) → endpoint: the inference calls, one lookup."""


# --- every other endpoint ---

TEMPLATES = """
agents agents/* agents/automations agents/automations/* agents/automations/*/invocations
    agents/automations/*/invocations/* agents/automations/*/pause agents/automations/*/resume
    agents/environments agents/environments/* agents/environments/*/files agents/environments/templates
    agents/environments/templates/* agents/sessions agents/sessions/* agents/sessions/*/artifacts
    agents/sessions/*/artifacts/* agents/sessions/*/artifacts/*/content agents/sessions/*/events
    agents/sessions/*/items agents/sessions/*/subagents agents/sessions/*/subagents/*
    agents/sessions/*/subagents/*/items agents/sessions/*/subagents/*/turns agents/sessions/*/subagents/*/turns/*
    agents/sessions/*/subagents/*/turns/*/items agents/sessions/*/traces agents/sessions/*/turns
    agents/sessions/*/turns/* agents/sessions/*/turns/*/items
assistants assistants/*
audio/speech audio/transcriptions audio/translations audio/voice_consents audio/voice_consents/* audio/voices
    audio/voices/*
batches batches/* batches/*/cancel
chat/completions chat/completions/* chat/completions/*/messages
chatkit/sessions chatkit/sessions/*/cancel chatkit/threads chatkit/threads/* chatkit/threads/*/items
completions
containers containers/* containers/*/files containers/*/files/* containers/*/files/*/content
content_provenance_checks
conversations conversations/* conversations/*/items conversations/*/items/*
decisions
embeddings
evals evals/* evals/*/runs evals/*/runs/* evals/*/runs/*/cancel evals/*/runs/*/output_items
    evals/*/runs/*/output_items/*
files files/* files/*/content
fine_tuning/alpha/graders/run fine_tuning/alpha/graders/validate fine_tuning/checkpoints/*/permissions
    fine_tuning/checkpoints/*/permissions/* fine_tuning/jobs fine_tuning/jobs/* fine_tuning/jobs/*/cancel
    fine_tuning/jobs/*/checkpoints fine_tuning/jobs/*/events fine_tuning/jobs/*/pause fine_tuning/jobs/*/resume
images/edits images/generations images/variations
live/sessions live/sessions/*/accept live/sessions/*/content live/sessions/*/fork live/sessions/*/hangup
    live/sessions/*/refer live/sessions/*/reject
models models/*
moderations
organization/admin_api_keys organization/admin_api_keys/* organization/audit_logs organization/certificates
    organization/certificates/* organization/certificates/activate organization/certificates/deactivate
    organization/costs organization/data_retention organization/external_keys organization/external_keys/*
    organization/external_keys/*/validate organization/external_storage organization/external_storage/*
    organization/external_storage/*/validate organization/groups organization/groups/* organization/groups/*/roles
    organization/groups/*/roles/* organization/groups/*/users organization/groups/*/users/* organization/invites
    organization/invites/* organization/projects organization/projects/* organization/projects/*/api_keys
    organization/projects/*/api_keys/* organization/projects/*/archive organization/projects/*/certificates
    organization/projects/*/certificates/activate organization/projects/*/certificates/deactivate
    organization/projects/*/data_retention organization/projects/*/groups organization/projects/*/groups/*
    organization/projects/*/hosted_tool_permissions organization/projects/*/model_permissions
    organization/projects/*/rate_limits organization/projects/*/rate_limits/* organization/projects/*/service_accounts
    organization/projects/*/service_accounts/* organization/projects/*/service_accounts/*/api_keys
    organization/projects/*/service_tier_settings organization/projects/*/spend_alerts
    organization/projects/*/spend_alerts/* organization/projects/*/spend_limit organization/projects/*/users
    organization/projects/*/users/* organization/roles organization/roles/* organization/spend_alerts
    organization/spend_alerts/* organization/spend_limit organization/usage/audio_speeches
    organization/usage/audio_transcriptions organization/usage/code_interpreter_sessions
    organization/usage/completions organization/usage/decisions organization/usage/embeddings
    organization/usage/file_search_calls organization/usage/images organization/usage/moderations
    organization/usage/vector_stores organization/usage/web_search_calls organization/users organization/users/*
    organization/users/*/roles organization/users/*/roles/* organization/workload_identity_providers
    organization/workload_identity_providers/* organization/workload_identity_providers/*/federation_rules
    organization/workload_identity_providers/*/federation_rules/*
projects/*/groups/*/roles projects/*/groups/*/roles/* projects/*/roles projects/*/roles/* projects/*/users/*/roles
    projects/*/users/*/roles/*
realtime/calls realtime/calls/*/accept realtime/calls/*/hangup realtime/calls/*/refer realtime/calls/*/reject
    realtime/client_secrets realtime/sessions realtime/transcription_sessions realtime/translations/client_secrets
responses responses/* responses/*/cancel responses/*/input_items responses/compact responses/input_tokens
safety/alerts/* safety/cases/*
skills skills/* skills/*/content skills/*/versions skills/*/versions/* skills/*/versions/*/content
threads threads/* threads/*/messages threads/*/messages/* threads/*/runs threads/*/runs/* threads/*/runs/*/cancel
    threads/*/runs/*/steps threads/*/runs/*/steps/* threads/*/runs/*/submit_tool_outputs threads/runs
uploads uploads/*/cancel uploads/*/complete uploads/*/parts
vaults vaults/* vaults/*/credentials vaults/*/credentials/*
vector_stores vector_stores/* vector_stores/*/file_batches vector_stores/*/file_batches/*
    vector_stores/*/file_batches/*/cancel vector_stores/*/file_batches/*/files vector_stores/*/files
    vector_stores/*/files/* vector_stores/*/files/*/content vector_stores/*/search
videos videos/* videos/*/content videos/*/remix videos/characters videos/characters/* videos/edits videos/extensions
webhook_endpoints webhook_endpoints/* webhook_endpoints/*/rotate_secret webhook_endpoints/*/test
webhook_event_types
"""
"""Every REST path of ``openai`` 3.54, ``*`` standing for an id; compiled once into a trie. A path outside it (a
newer SDK's endpoint, ``client.get("/custom")``) still gets a span, named ``http.{method}``."""

_ACTIONS = frozenset(
    {
        "accept", "activate", "archive", "cancel", "compact", "complete", "content", "deactivate", "fork", "hangup",
        "pause", "refer", "reject", "remix", "resume", "rotate_secret", "run", "search", "submit_tool_outputs",
        "test", "validate",
    }
)  # fmt: skip
"""Last path words that name what is done (``batches/*/cancel`` → ``batches.cancel``), not a collection."""

_SINGLETONS = frozenset(
    {"data_retention", "hosted_tool_permissions", "model_permissions", "service_tier_settings", "spend_limit"}
)
"""Last path words that name one object, read and written like an item (``…/spend_limit`` → ``….retrieve``)."""

_ITEM_VERBS = {"get": "retrieve", "post": "update", "put": "update", "patch": "update", "delete": "delete"}
_COLLECTION_VERBS = {"get": "list", "post": "create", "put": "update", "patch": "update", "delete": "delete"}

_NAMES = {
    ("post", "images/generations"): "images.generate",
    ("post", "images/edits"): "images.edit",
    ("post", "images/variations"): "images.create_variation",
    ("post", "responses/input_tokens"): "responses.input_tokens.count",
}
"""Where the SDK's method name reads better than the derived one."""

_TOKENS = Usage(input=("input_tokens",), output=("output_tokens",))

_GENERIC_TABLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "images/generations"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "images/edits"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "images/variations"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "audio/speech"): {"attributes": {A.OUTPUT_TYPE: "speech"}},
    ("post", "audio/transcriptions"): {"usage": _TOKENS},
    ("post", "audio/translations"): {"usage": _TOKENS},
    ("post", "moderations"): {"response": (Field(("model",), A.RESPONSE_MODEL),)},
    ("post", "responses/compact"): {
        "attributes": {A.OPENAI_API_TYPE: "responses"},
        "response": RESPONSES_FIELDS,
        "usage": RESPONSES_USAGE,
    },
}
"""Generic endpoints that report something worth reading: only these read their response (and record tokens)."""

RETRIEVAL = Endpoint(operation="retrieval", request=(Field(("max_num_results",), A.REQUEST_TOP_K, as_float),))
"""``vector_stores.search``, the conventions' example of a retrieval; span ``retrieval {vector store id}``."""

CREATE_AGENT = Endpoint(operation="create_agent", span_name="create_agent", response=(Field(("id",), A.AGENT_ID),))
"""``POST /assistants`` and ``POST /agents``; span ``create_agent {name}`` when the agent is named."""


INVOKE_AGENT = Endpoint(
    operation="invoke_agent",
    span_name="invoke_agent",
    request=(Field(("assistant_id",), A.AGENT_ID),),
    response=(Field(("thread_id",), A.CONVERSATION_ID),),
    usage=Usage(),
)
"""Assistants runs (``threads.runs.create``, ``threads.create_and_run``): the thread is the conversation."""


def _body(options: Any) -> Mapping[str, Any]:
    body = options.json_data
    return body if isinstance(body, Mapping) else {}


def _retrieval(ids: list[str], options: Any) -> Specifics:
    store = ids[0]
    return Specifics(RETRIEVAL, f"retrieval {store}", {A.DATA_SOURCE_ID: store})


def _create_agent(ids: list[str], options: Any) -> Endpoint | Specifics:
    name = as_str(_body(options).get("name"))
    if name is None:
        return CREATE_AGENT
    return Specifics(CREATE_AGENT, f"create_agent {name}", {A.AGENT_NAME: name})


def _invoke_agent(ids: list[str], options: Any) -> Endpoint | Specifics:
    return Specifics(INVOKE_AGENT, None, {A.CONVERSATION_ID: ids[0]}) if ids else INVOKE_AGENT


_SPECIAL: dict[tuple[str, str], Endpoint | Callable[[list[str], Any], Endpoint | Specifics]] = {
    ("get", "responses/*"): FETCH_RESPONSE,
    ("post", "vector_stores/*/search"): _retrieval,
    ("post", "assistants"): _create_agent,
    ("post", "agents"): _create_agent,
    ("post", "threads/runs"): _invoke_agent,
    ("post", "threads/*/runs"): _invoke_agent,
}
"""Template paths with a conventional operation; the callables read the call's ids or body."""


class _Node:
    __slots__ = ("children", "template", "wildcard")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.wildcard: _Node | None = None
        self.template: str | None = None


def _compile(templates: str) -> _Node:
    root = _Node()
    for template in templates.split():
        node = root
        for segment in template.split("/"):
            if segment == "*":
                if node.wildcard is None:
                    node.wildcard = _Node()
                node = node.wildcard
            else:
                node = node.children.setdefault(segment, _Node())
        node.template = template
    return root


_TRIE = _compile(TEMPLATES)


def _match(path: str) -> tuple[str, list[str]] | None:
    """The template ``path`` instantiates and the ids in it; a word of the template wins over an id."""
    node = _TRIE
    ids: list[str] = []
    for segment in path.strip("/").split("/"):
        child = node.children.get(segment)
        if child is None:
            child = node.wildcard
            if child is None or not segment:
                return None
            ids.append(segment)
        node = child
    return (node.template, ids) if node.template is not None else None


def operation_name(method: str, template: str) -> str:
    """A low-cardinality name for an endpoint: its path words and a verb, e.g. ``vector_stores.files.list``."""
    name = _NAMES.get((method, template))
    if name is not None:
        return name
    segments = template.split("/")
    words = [s for s in segments if s != "*"]
    last = segments[-1]
    if last == "*" or last in _SINGLETONS:
        verb = _ITEM_VERBS.get(method)
    elif last in _ACTIONS:
        verb = None
    else:
        verb = _COLLECTION_VERBS.get(method)
    return ".".join([*words, verb] if verb else words)


_GENERIC: dict[tuple[str, str], Endpoint] = {}
"""Generic endpoints made on first use; bounded by the templates times the five HTTP methods (never by ids)."""

_FALLBACK = {m: Endpoint(operation=f"http.{m}") for m in _ITEM_VERBS}
_FALLBACK_OTHER = Endpoint(operation="http.request")


def _generic(method: str, template: str) -> Endpoint:
    key = (method, template)
    endpoint = _GENERIC.get(key)
    if endpoint is None:
        endpoint = _GENERIC[key] = Endpoint(operation=operation_name(method, template), **_GENERIC_TABLES.get(key, {}))
    return endpoint


def route(options: Any) -> Endpoint | Specifics:
    method = options.method.lower()
    url = options.url
    endpoint = ROUTES.get((method, url))
    if endpoint is not None:
        return endpoint
    return _route_path(method, url, options)


def _route_path(method: str, url: str, options: Any) -> Endpoint | Specifics:
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    endpoint = ROUTES.get((method, path))  # e.g. the beta resources' "/responses?beta=true"
    if endpoint is not None:
        return endpoint
    matched = _match(path) if method in _ITEM_VERBS else None
    if matched is None:
        return _FALLBACK.get(method, _FALLBACK_OTHER)
    template, ids = matched
    special = _SPECIAL.get((method, template))
    if special is not None:
        return special if isinstance(special, Endpoint) else special(ids, options)
    return _generic(method, template)


def _provider_name(client: Any) -> str:
    from openai.lib.azure import BaseAzureClient

    return "azure.ai.openai" if isinstance(client, BaseAzureClient) else "openai"


PROVIDER = Provider(
    name="openai",
    package="openai",
    # 1.26 is the first release with stream_options.include_usage, so a streamed chat can report its tokens.
    supported="openai >= 1.26.0, < 4",
    base_client_module="openai._base_client",
    sync_client="SyncAPIClient",
    async_client="AsyncAPIClient",
    stream_module="openai._streaming",
    sync_stream="Stream",
    async_stream="AsyncStream",
    route=route,
    provider_name=_provider_name,
    raw_response_classes=(
        ("openai._response", "BaseAPIResponse"),
        ("openai._legacy_response", "LegacyAPIResponse"),
    ),
)
