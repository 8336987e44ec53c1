"""Serialising captured content: compact JSON in the conventions' schema, bounded in size.

Only reached when the user opted in to content capture. The size bound keeps one huge prompt from producing a span
an exporter rejects: long strings inside parts are shortened first (the JSON stays valid and every message stays
visible), and if that is not enough the oldest messages are dropped, since the newest turns matter most.
"""

from __future__ import annotations

import json
from typing import Any

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
        return value if len(value) <= limit else value[:limit] + _TRUNCATED
    if isinstance(value, list):
        return [_shorten(v, limit) for v in value]
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    return value


def bounded_json(items: list[Any], max_length: int) -> tuple[str, bool]:
    """JSON for ``items`` no longer than ``max_length`` characters, and whether anything was cut."""
    text = dumps(items)
    if len(text) <= max_length:
        return text, False
    per_string = max(64, max_length // (4 * max(1, len(items))))
    shortened = _shorten(items, per_string)
    text = dumps(shortened)
    while len(text) > max_length and len(shortened) > 1:
        shortened = shortened[1:]
        text = dumps(shortened)
    if len(text) > max_length:
        text = dumps([{"type": "text", "content": _TRUNCATED}])
    return text, True
