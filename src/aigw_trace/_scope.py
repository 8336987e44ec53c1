"""Attributes scoped to a block of code, added to every GenAI span started inside it."""

from __future__ import annotations

from contextvars import ContextVar

from opentelemetry.util.types import AttributeValue

_SCOPED: ContextVar[dict[str, AttributeValue] | None] = ContextVar("aigw_trace_scoped_attributes", default=None)


def scoped_attributes() -> dict[str, AttributeValue] | None:
    """The attributes of the innermost enclosing scope (already merged with outer scopes), if any."""
    return _SCOPED.get()
