"""The loopback gateway's spans for one exchange: a SERVER span joining the caller's trace, a simulated provider
CLIENT span under it, and the ``traceresponse`` that names the server span."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from ._bodies import Route, TokenUsage

if TYPE_CHECKING:
    from ._loopback import LoopbackGateway


_ROLE = "aigw.gateway.role"
"""Span attribute telling the gateway's SERVER span (``gateway``) from the simulated provider span (``upstream``)."""


_SESSION_HEADERS = ("agent-session-id", "x-litellm-session-id")
"""Session headers gateways read (Envoy AI Gateway, LiteLLM), besides baggage ``session.id``."""


class ExchangeSpans:
    """The gateway's SERVER span and, under it, the simulated provider CLIENT span; both end once, together."""

    def __init__(self, server: Span, upstream: Span | None) -> None:
        self.server = server
        self.upstream = upstream
        self._ended = False

    @classmethod
    def start(
        cls,
        gateway: LoopbackGateway,
        method: str,
        path: str,
        route: Route | None,
        carrier: Mapping[str, str],
        model: str | None,
    ) -> ExchangeSpans:
        incoming = propagate.extract(carrier)
        caller = trace.get_current_span(incoming).get_span_context()
        restart = gateway.restart_trace and caller.is_valid
        attributes: dict[str, AttributeValue] = {
            _ROLE: "gateway",
            "http.request.method": method,
            "url.path": path,
            "url.scheme": "http",
            "server.address": gateway.host,
            "server.port": gateway.port,
        }
        if route is not None:
            attributes["http.route"] = path
        server = gateway._tracer.start_span(
            f"{method} {path}" if route is not None else method,  # HTTP semconv: no route, no path in the name
            Context() if restart else incoming,
            SpanKind.SERVER,
            attributes=attributes,
            links=[Link(caller, {"aigw.link.reason": "caller"})] if restart else None,
        )
        if route is None or route.operation is None:
            return cls(server, None)
        # No gen_ai.operation.name on purpose: client-side test helpers pick "their" GenAI spans by it, and the
        # gateway may share their tracer provider.
        upstream_attributes: dict[str, AttributeValue] = {
            _ROLE: "upstream",
            "gen_ai.provider.name": route.provider.name,
        }
        if model:
            upstream_attributes["gen_ai.request.model"] = model
        session = baggage.get_baggage("session.id", incoming) or next(
            (carrier[h] for h in _SESSION_HEADERS if h in carrier), None
        )
        if session:
            upstream_attributes["gen_ai.conversation.id"] = str(session)
        upstream = gateway._upstream_tracer.start_span(
            f"{route.operation} {model or 'unknown'}",
            trace.set_span_in_context(server, Context()),
            SpanKind.CLIENT,
            attributes=upstream_attributes,
        )
        return cls(server, upstream)

    def traceresponse(self) -> str | None:
        """``00-<trace id>-<server span id>-<flags>`` when the server span is sampled.

        The flags are the span's own: the SDK sets ``03`` (sampled + random trace id) on a trace it starts, as
        LiteLLM's ``traceresponse`` shows.
        """
        ctx = self.server.get_span_context()
        if not (self.server.is_recording() and ctx.is_valid and ctx.trace_flags.sampled):
            return None
        return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"

    def end(self, status: int | None, error: str | None = None, usage: TokenUsage | None = None) -> None:
        """End both spans (first call wins); ``error`` marks a failure the status code does not show.

        ``status`` is ``None`` when no response was sent.
        """
        if self._ended:
            return
        self._ended = True
        error_type = error or (str(status) if status is not None and status >= 400 else None)
        if self.upstream is not None:
            if error_type is not None:
                self.upstream.set_attribute("error.type", error_type)
                self.upstream.set_status(Status(StatusCode.ERROR, error_type))
            elif usage is not None:
                self.upstream.set_attributes(
                    {"gen_ai.usage.input_tokens": usage.input_tokens, "gen_ai.usage.output_tokens": usage.output_tokens}
                )
            self.upstream.end()
        if status is not None:
            self.server.set_attribute("http.response.status_code", status)
        # HTTP server semantics: a 4xx is the caller's fault, not the server's; a broken 200 stream is the server's.
        if error_type is not None and (error is not None or status is None or status >= 500):
            self.server.set_attribute("error.type", error_type)
            self.server.set_status(Status(StatusCode.ERROR, error_type))
        self.server.end()
