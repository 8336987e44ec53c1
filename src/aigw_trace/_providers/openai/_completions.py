"""Legacy OpenAI completions and embeddings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ... import _attributes as A
from .._spec import Content, Endpoint, Field, Messages, Usage
from .._values import as_int, dig
from ._chat import (
    CHAT_PARAMETERS,
    CHAT_USAGE,
    SAMPLING_FIELDS,
    STREAM_USAGE,
    ChatContentStream,
    ChatStream,
    _chat_finish_reasons,
)

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
    return [value] if isinstance(value, str) and value else None  # as_str's test, inline: it runs on every call


def _dimension_count(data: Any) -> int | None:
    """Dimensions of the first returned vector: a list of floats, or base64 of little-endian float32s (raw
    responses, before the SDK decodes them)."""
    if not isinstance(data, list) or not data:
        return None
    first = data[0]  # an SDK model, or a dict from a raw body: dig's one step, inline (it runs on every response)
    vector = first.get("embedding") if isinstance(first, dict) else getattr(first, "embedding", None)
    if isinstance(vector, list):
        return len(vector) or None
    if isinstance(vector, str) and vector:
        size = len(vector) * 3 // 4 - vector.count("=", -2)
        return size // 4 or None
    return None


# --- endpoints ---

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
    stream_usage=STREAM_USAGE,
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
