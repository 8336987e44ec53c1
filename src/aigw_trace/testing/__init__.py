"""Test helpers for code traced with aigw-trace.

:class:`LoopbackGateway` is a real HTTP server on 127.0.0.1 that answers the ``openai`` and ``anthropic`` SDKs like a
tracing AI gateway: it joins the caller's trace, returns ``traceresponse`` and gateway headers, records every request
(:class:`RecordedRequest`) and misbehaves on demand (:class:`Fault`). It needs only ``opentelemetry-api``.
"""

from ._loopback import Fault, LoopbackGateway, RecordedRequest, TokenUsage

__all__ = ["Fault", "LoopbackGateway", "RecordedRequest", "TokenUsage"]
