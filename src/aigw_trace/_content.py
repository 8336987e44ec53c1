"""Serialising captured content: compact JSON in the conventions' schema, bounded in size.

Only reached when the user opted in to content capture. The size bound keeps one huge prompt from producing a span
an exporter rejects: long strings inside parts are shortened first (the JSON stays valid and every message stays
visible), and if that is not enough the oldest messages are dropped, since the newest turns matter most.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from . import _attributes as A
from ._safety import report

if TYPE_CHECKING:
    from ._providers._spec import Endpoint
    from ._telemetry import Telemetry

_TRUNCATED = "…[truncated]"


def _default(value: Any) -> Any:
    # SDK models and other odd objects inside content: fall back to something readable rather than fail.
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_unset=True)
        except Exception:
            pass
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_default)


def _shorten(value: Any, limit: int) -> Any:
    if isinstance(value, str):
        # Only where it saves something: the marker must not make a short string longer.
        return value if len(value) <= limit + len(_TRUNCATED) else value[:limit] + _TRUNCATED
    if isinstance(value, list):
        return [_shorten(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    return value


Form = Callable[["list[Any]", bool], "list[Any]"]
"""Puts content into the chosen conventions' part schema: ``form(items, messages)``, where ``messages`` says
whether ``items`` are messages holding ``parts`` or are parts themselves (system instructions)."""

_PART_TYPES = frozenset(
    {"text", "tool_call", "tool_call_response", "server_tool_call", "server_tool_call_response", "blob", "file",
     "uri", "reasoning", "compaction", "generic"}
)  # fmt: skip
"""The part types the latest message schemas define (``gen-ai-input-messages.json``); any other is generic."""


def same_parts(items: list[Any], messages: bool) -> list[Any]:
    """The released conventions: any ``type`` string is a part of its own."""
    return items


def generic_parts(items: list[Any], messages: bool) -> list[Any]:
    """The latest conventions (``changelog.d/584.breaking.md``): a part of a type no schema defines is recorded as
    ``{"type": "generic", "generic_type": <its type>, …its fields}``. Copies only what changes."""
    if not messages:
        return _generic(items)
    out = items
    for i, message in enumerate(items):
        parts = message.get("parts") if isinstance(message, dict) else None
        if isinstance(parts, list):
            renamed = _generic(parts)
            if renamed is not parts:
                if out is items:
                    out = list(items)
                out[i] = {**message, "parts": renamed}
    return out


def _generic(parts: list[Any]) -> list[Any]:
    out = parts
    for i, part in enumerate(parts):
        if isinstance(part, dict) and part.get("type") not in _PART_TYPES:
            if out is parts:
                out = list(parts)
            kind = part.get("type")
            out[i] = {"type": "generic", **({"generic_type": kind} if isinstance(kind, str) else {}),
                      **{k: v for k, v in part.items() if k != "type"}}  # fmt: skip
    return out


_NOTHING_FITS = dumps([{"type": "text", "content": _TRUNCATED}])


def bounded_json(items: list[Any], max_length: int) -> tuple[str, bool]:
    """JSON for ``items`` no longer than ``max_length`` characters, and whether anything was cut.

    Always valid JSON, and within the limit whenever ``max_length`` is at least ``len(_NOTHING_FITS)`` (the
    ``content_max_length`` option's minimum is above that).
    """
    text = dumps(items)
    if len(text) <= max_length:
        return text, False
    per_string = max(64, max_length // (4 * max(1, len(items))))
    shortened = [_shorten(item, per_string) for item in items]
    # Drop the oldest messages until the rest fits: "[" + ",".join(items) + "]", sized once per item.
    sizes = [len(dumps(item)) for item in shortened]
    total = sum(sizes) + len(sizes) + 1
    start = 0
    while total > max_length and start < len(items) - 1:
        total -= sizes[start] + 1
        start += 1
    kept = items[start:]
    text = dumps(shortened[start:])
    while len(text) > max_length and per_string > 0:
        # The newest message alone is still too long: shorten its strings further.
        per_string //= 2
        text = dumps(_shorten(kept, per_string))
    if len(text) > max_length:
        text = _NOTHING_FITS if len(_NOTHING_FITS) <= max_length else "[]"
    return text, True


def capture_inputs(
    tel: Telemetry,
    endpoint: Endpoint,
    body: Mapping[str, Any],
    attrs: dict[str, AttributeValue],
    event_attrs: dict[str, Any] | None,
) -> None:
    assert endpoint.content is not None
    try:
        system, messages, tools = endpoint.content.inputs(body)
        form = tel.content_form
        if system:
            system = form(system, False)
        if messages:
            messages = form(messages, True)
    except Exception as exc:
        report("capturing input content", exc)
        return
    settings = tel.settings
    for key, value in (
        (A.SYSTEM_INSTRUCTIONS, system),
        (A.INPUT_MESSAGES, messages),
        (A.TOOL_DEFINITIONS, tools),
    ):
        if not value:
            continue
        if settings.content.on_span:
            attrs[key] = bounded_json(value, settings.content_max_length)[0]
        if event_attrs is not None and settings.content.on_event:
            event_attrs[key] = value


def capture_outputs(
    tel: Telemetry,
    endpoint: Endpoint,
    response: Any,
    attrs: dict[str, AttributeValue],
    event_attrs: dict[str, Any] | None,
) -> None:
    """Output messages of ``response`` (or a stream's summary) onto the span and the inference-details event."""
    content = endpoint.content
    if content is None:
        return
    messages = content.outputs(response)
    if not messages:
        return
    messages = tel.content_form(messages, True)
    settings = tel.settings
    if settings.content.on_span:
        attrs[A.OUTPUT_MESSAGES] = bounded_json(messages, settings.content_max_length)[0]
    if event_attrs is not None and settings.content.on_event:
        event_attrs[A.OUTPUT_MESSAGES] = messages
