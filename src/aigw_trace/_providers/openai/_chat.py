"""OpenAI chat completions: request and response tables, content in the conventions' schema, and the
stream fold (shared by legacy completions)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ... import _attributes as A
from .._spec import Content, Endpoint, Field, Messages, StreamUsage, Usage
from .._values import as_float, as_int, as_str, as_str_list, dig, mapped

# --- shared readers ---


def _choice_count(value: Any) -> int | None:
    n = as_int(value)
    return n if n != 1 else None


def _requested_tier(value: Any) -> str | None:
    tier = as_str(value)
    return tier if tier != "auto" else None


OUTPUT_TYPES = mapped({"json_object": "json", "json_schema": "json", "text": "text"})
"""A response format's type as the conventions' ``gen_ai.output.type``."""


def _speech_output(modalities: Any) -> str | None:
    return "speech" if isinstance(modalities, list) and "audio" in modalities else None


def _chat_finish_reasons(response: Any) -> list[str] | None:
    choices = response.get("choices") if response.__class__ is dict else getattr(response, "choices", None)
    if not isinstance(choices, list):
        return None
    reasons = []
    for choice in choices:
        reason = choice.get("finish_reason") if choice.__class__ is dict else getattr(choice, "finish_reason", None)
        if isinstance(reason, str) and reason:  # "" is no reason (some servers send it for null)
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
        try:
            # The common chunk, one choice carrying content, ends here: plain attribute reads (no getattr call, no
            # loop). Anything else (no choices, several, a finish reason, an odd shape) takes the general path.
            choices = chunk.choices
            if type(choices) is list and len(choices) == 1 and choices[0].finish_reason is None:
                return
        except Exception:
            pass
        self._general(chunk)

    def _general(self, chunk: Any) -> None:
        choices = getattr(chunk, "choices", None)
        if choices and choices.__class__ is list:
            for choice in choices:
                # getattr with defaults: a gateway's odd choice (null, a string) costs only itself.
                reason = getattr(choice, "finish_reason", None)
                if reason:  # some OpenAI-compatible servers send "" rather than null on a choice still running
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
        choices = getattr(chunk, "choices", None)
        if choices.__class__ is list:
            for choice in choices:
                self._collect(self._state(getattr(choice, "index", None)), choice)


def _usage_only(chunk: Any) -> bool:
    """The chunk ``stream_options.include_usage`` adds at the end: no choices, only usage."""
    return not getattr(chunk, "choices", None) and getattr(chunk, "usage", None) is not None


STREAM_USAGE = StreamUsage(option=("stream_options", "include_usage"), usage_only=_usage_only)
"""Chat and legacy completion streams report usage only when asked, in a last chunk of its own."""


def chat_stream(capture: bool, carried: tuple[str, ...]) -> ChatStream:
    return ChatContentStream(carried) if capture else ChatStream(carried)


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
    Field(("response_format", "type"), A.OUTPUT_TYPE, OUTPUT_TYPES),
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
        Field(("reasoning_effort",), A.REQUEST_REASONING_LEVEL),
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
    stream_usage=STREAM_USAGE,
    stream=chat_stream,
    content=Content(inputs=_chat_inputs, outputs=_chat_outputs),
)
