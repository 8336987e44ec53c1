"""The ``openai`` SDK (3.x), described as data for the shared machinery.

Chat completions live here; every other endpoint family is added as one more entry in :data:`ROUTES`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from opentelemetry.util.types import AttributeValue

from .. import _attributes as A
from ._spec import (
    Content,
    Endpoint,
    Field,
    Messages,
    Provider,
    Usage,
    as_float,
    as_int,
    as_str,
    as_str_list,
    dig,
)

# --- shared readers ---


def _chat_request_extra(body: Mapping[str, Any], attrs: dict[str, AttributeValue]) -> None:
    n = as_int(body.get("n"))
    if n is not None and n != 1:
        attrs[A.REQUEST_CHOICE_COUNT] = n
    tier = as_str(body.get("service_tier"))
    if tier is not None and tier != "auto":
        attrs[A.OPENAI_REQUEST_SERVICE_TIER] = tier
    output_type = _output_type(body)
    if output_type is not None:
        attrs[A.OUTPUT_TYPE] = output_type


def _output_type(body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format")
    kind = dig(fmt, ("type",)) if fmt is not None else None
    if kind in ("json_object", "json_schema"):
        return "json"
    if kind == "text":
        return "text"
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        return "speech"
    return None


def _chat_finish_reasons(response: Any) -> list[str] | None:
    choices = dig(response, ("choices",))
    if not isinstance(choices, list):
        return None
    reasons = [dig(c, ("finish_reason",)) for c in choices]
    return [r for r in reasons if isinstance(r, str)] or None


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
        elif isinstance(kind, str):
            parts.append({"type": kind})
    return parts


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
    """Folds ``chat.completion.chunk`` items into a ``chat.completion``-shaped summary."""

    __slots__ = ("_capture", "_choices", "_last", "_usage")

    def __init__(self, capture: bool) -> None:
        self._capture = capture
        self._last: Any = None
        self._usage: Any = None
        self._choices: dict[int, dict[str, Any]] = {}

    def add(self, chunk: Any) -> None:
        self._last = chunk
        usage = chunk.usage
        if usage is not None:
            self._usage = usage
        choices = chunk.choices
        if not choices:
            return
        for choice in choices:
            reason = choice.finish_reason
            if reason is not None or self._capture:
                state = self._choices.get(choice.index)
                if state is None:
                    state = self._choices[choice.index] = {"finish_reason": None, "text": [], "tools": {}}
                if reason is not None:
                    state["finish_reason"] = reason
                if self._capture:
                    self._collect(state, choice.delta)

    @staticmethod
    def _collect(state: dict[str, Any], delta: Any) -> None:
        if delta is None:
            return
        if delta.content:
            state["text"].append(delta.content)
        for call in delta.tool_calls or ():
            tool = state["tools"].setdefault(call.index, {"id": None, "name": None, "arguments": []})
            if call.id:
                tool["id"] = call.id
            fn = call.function
            if fn is not None:
                if fn.name:
                    tool["name"] = fn.name
                if fn.arguments:
                    tool["arguments"].append(fn.arguments)

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
        return {
            "id": dig(last, ("id",)),
            "model": dig(last, ("model",)),
            "service_tier": dig(last, ("service_tier",)),
            "system_fingerprint": dig(last, ("system_fingerprint",)),
            "usage": self._usage,
            "choices": choices,
        }


# --- endpoints ---

SAMPLING_FIELDS = (
    Field(("temperature",), A.REQUEST_TEMPERATURE, as_float),
    Field(("top_p",), A.REQUEST_TOP_P, as_float),
    Field(("frequency_penalty",), A.REQUEST_FREQUENCY_PENALTY, as_float),
    Field(("presence_penalty",), A.REQUEST_PRESENCE_PENALTY, as_float),
    Field(("seed",), A.REQUEST_SEED, as_int),
    Field(("stop",), A.REQUEST_STOP_SEQUENCES, as_str_list),
)

CHAT = Endpoint(
    operation="chat",
    attributes={A.OPENAI_API_TYPE: "chat_completions"},
    request=(
        *SAMPLING_FIELDS,
        Field(("max_tokens",), A.REQUEST_MAX_TOKENS, as_int),
        Field(("max_completion_tokens",), A.REQUEST_MAX_TOKENS, as_int),
    ),
    request_extra=_chat_request_extra,
    response=(
        Field(("id",), A.RESPONSE_ID),
        Field(("model",), A.RESPONSE_MODEL),
        Field(("service_tier",), A.OPENAI_RESPONSE_SERVICE_TIER),
        Field(("system_fingerprint",), A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
    ),
    usage=Usage(
        input=("prompt_tokens",),
        output=("completion_tokens",),
        cache_read=("prompt_tokens_details", "cached_tokens"),
        reasoning=("completion_tokens_details", "reasoning_tokens"),
    ),
    finish_reasons=_chat_finish_reasons,
    error=("error",),
    stream=ChatStream,
    content=Content(inputs=_chat_inputs, outputs=_chat_outputs),
)

ROUTES: dict[tuple[str, str], Endpoint] = {
    ("post", "/chat/completions"): CHAT,
}
"""(lower-case HTTP method, request path as the SDK passes it) → endpoint."""


def route(options: Any) -> Endpoint | None:
    return ROUTES.get((options.method.lower(), options.url))


def _provider_name(client: Any) -> str:
    from openai.lib.azure import BaseAzureClient

    return "azure.ai.openai" if isinstance(client, BaseAzureClient) else "openai"


PROVIDER = Provider(
    name="openai",
    package="openai",
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
