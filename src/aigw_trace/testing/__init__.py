"""Test helpers for code traced with aigw-trace.

:class:`LoopbackGateway` is a real HTTP server on 127.0.0.1 that answers the ``openai`` and ``anthropic`` SDKs like a
tracing AI gateway: it joins the caller's trace, returns ``traceresponse`` and gateway headers, records every request
(:class:`RecordedRequest`) and misbehaves on demand (:class:`Fault`). It needs only ``opentelemetry-api``.

:class:`InMemoryTelemetry` (the ``aigw_telemetry`` fixture's type) and :class:`JoinedTrace` (what its ``joined()``
returns) need the OpenTelemetry SDK (``aigw-trace[sdk]``); they are imported on first use, so this package imports
without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._loopback import Fault, LoopbackGateway, RecordedRequest, TokenUsage

if TYPE_CHECKING:
    from ._in_memory import InMemoryTelemetry, JoinedTrace

__all__ = ["Fault", "InMemoryTelemetry", "JoinedTrace", "LoopbackGateway", "RecordedRequest", "TokenUsage"]

_NEEDS_SDK = frozenset({"InMemoryTelemetry", "JoinedTrace"})


def __dir__() -> list[str]:
    return list(__all__)


def __getattr__(name: str) -> Any:
    if name not in _NEEDS_SDK:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        from . import _in_memory
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("opentelemetry.sdk"):
            raise
        raise ImportError(
            f"aigw_trace.testing.{name} needs the OpenTelemetry SDK: pip install 'aigw-trace[sdk]'", name=exc.name
        ) from None
    return getattr(_in_memory, name)
