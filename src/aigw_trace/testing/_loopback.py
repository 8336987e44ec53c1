"""A loopback AI gateway: a real HTTP server on 127.0.0.1 that answers the ``openai`` and ``anthropic`` SDKs.

It behaves like a tracing gateway (LiteLLM, Envoy AI Gateway): it joins the caller's trace from ``traceparent``,
records a SERVER span and a simulated upstream provider CLIENT span, returns ``traceresponse`` and gateway headers,
remembers every request, and can be told to misbehave (:class:`Fault`).

Vocabulary: an *exchange* is one HTTP request and its response. A *stream* response is a list of SSE *events*
whose last one is the *final event* (``data: [DONE]``, ``response.completed``, ``message_stop``).

The gateway ends its spans just before the last byte of a response leaves, so a test can assert on the spans as soon
as the SDK call returns (or the stream is read to its end).

This module is the gateway itself (lifecycle, recordings, serving one exchange). The rest, one concern each:
``_http`` (server and handler), ``_bodies`` (canned provider bodies, SSE, the route table), ``_faults``,
``_answers`` (the response decided from route and fault), ``_server_spans`` (the exchange's spans and
``traceresponse``), ``_records`` (:class:`RecordedRequest`).
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from types import TracebackType

from opentelemetry import trace
from opentelemetry.trace import TracerProvider

from ._answers import Answer, decide_answer
from ._bodies import ROUTES, TokenUsage, Turn
from ._faults import Fault
from ._http import Handler, Server, lower_headers, parse_json
from ._records import RecordedRequest
from ._server_spans import ExchangeSpans

__all__ = ["Fault", "LoopbackGateway", "RecordedRequest", "TokenUsage"]

_TRACER_NAME = "aigw_trace.testing.gateway"
"""Instrumentation scope of the gateway's spans."""


class _Stopping(Exception):
    """stop() was called while an exchange was waiting: drop the connection instead of answering."""


class LoopbackGateway:
    """A tracing AI gateway on ``127.0.0.1`` for tests, speaking enough OpenAI and Anthropic HTTP for the real SDKs.

    Use as a context manager (or ``start()`` / ``stop()``)::

        with LoopbackGateway(tracer_provider=provider) as gateway:
            client = openai.OpenAI(api_key="test", base_url=gateway.openai_base_url)
            client.chat.completions.create(model="gpt-4o", messages=[...])
            assert gateway.last_request.traceparent

    Per request it extracts the caller's context with the global propagator, records a SERVER span
    (``POST /v1/chat/completions``) and under it a simulated provider CLIENT span (``chat <model>``), and answers
    with ``traceresponse`` (when its span is sampled), LiteLLM-like ``x-litellm-*`` headers and
    ``x-envoy-upstream-service-time``. Public attributes (``text``, ``stream_chunks``, ``usage``,
    ``response_headers``, ``restart_trace``, ``gateway_headers``) may be changed between requests.

    Args:
        tracer_provider: for the gateway's spans; the global provider when ``None``.
        upstream_tracer_provider: for the simulated provider spans; ``tracer_provider`` when ``None``.
        text: the reply text of every answer.
        stream_chunks: how many content deltas a stream carries (they concatenate to ``text``).
        usage: token counts every answer reports.
        response_headers: extra headers on every response.
        restart_trace: ignore the caller's context and start a new trace (linked to the caller's span).
        gateway_headers: send the ``x-litellm-*`` / ``x-envoy-*`` headers.
        models: ids listed by ``GET /v1/models``.
        embedding_dimensions: length of embedding vectors when the request does not set ``dimensions``.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        upstream_tracer_provider: TracerProvider | None = None,
        text: str = "pong",
        stream_chunks: int = 2,
        usage: TokenUsage | None = None,
        response_headers: Mapping[str, str] | None = None,
        restart_trace: bool = False,
        gateway_headers: bool = True,
        models: Sequence[str] = ("gpt-4o-mini", "claude-haiku-4-5"),
        embedding_dimensions: int = 8,
    ) -> None:
        if stream_chunks < 1:
            raise ValueError("stream_chunks must be at least 1")
        self.text = text
        self.stream_chunks = stream_chunks
        self.usage = usage or TokenUsage()
        self.response_headers: dict[str, str] = dict(response_headers or {})
        self.restart_trace = restart_trace
        self.gateway_headers = gateway_headers
        self.models = tuple(models)
        self.embedding_dimensions = embedding_dimensions
        self._tracer = trace.get_tracer(_TRACER_NAME, tracer_provider=tracer_provider)
        self._upstream_tracer = trace.get_tracer(
            _TRACER_NAME, tracer_provider=upstream_tracer_provider or tracer_provider
        )
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._seq = 0
        self._stopping = threading.Event()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> LoopbackGateway:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("the gateway is already running")
        self._stopping.clear()
        self._server = Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="aigw-loopback", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop serving, cut open connections (interrupting delays and streams) and join every thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections(timeout)
        server.server_close()
        thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> LoopbackGateway:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses ---

    @property
    def host(self) -> str:
        """Always ``127.0.0.1``: the gateway never listens beyond loopback."""
        return "127.0.0.1"

    @property
    def port(self) -> int:
        """The port picked at ``start()``; ``RuntimeError`` when not running."""
        if self._server is None:
            raise RuntimeError("the gateway is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """``base_url`` for ``openai.OpenAI`` (``…/v1``)."""
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        """``base_url`` for ``anthropic.Anthropic`` (no ``/v1``: the SDK adds it)."""
        return self.url

    # --- faults and recordings ---

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is consumed, in order, by the next request matching its ``path``."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> list[Fault]:
        """Faults not consumed yet."""
        with self._lock:
            return list(self._faults)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The latest request; ``LookupError`` when there is none."""
        with self._lock:
            if not self._requests:
                raise LookupError("the gateway has received no request")
            return self._requests[-1]

    def clear(self) -> None:
        """Forget recorded requests and pending faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def wait_idle(self, timeout: float = 2.0) -> bool:
        """Wait until no exchange is in progress (e.g. after a client abandoned a stream); ``False`` on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    # --- serving (handler threads) ---

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.path is None or fault.path == path:
                    return self._faults.pop(i)
        return None

    def _next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _exchange(self, handler: Handler) -> None:
        with self._idle:
            self._in_flight += 1
        try:
            self._serve(handler)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _serve(self, handler: Handler) -> None:
        started = time.monotonic()
        method, (path, _, query) = handler.command, handler.path.partition("?")
        headers = lower_headers(handler.headers.items())
        body = handler.read_body()
        payload = parse_json(body)
        request = payload if isinstance(payload, dict) else {}
        model = request["model"] if isinstance(request.get("model"), str) else None
        route = ROUTES.get((method, path))
        fault = self._take_fault(path)
        spans = ExchangeSpans.start(self, method, path, route, headers, model)
        try:
            overhead_ms = (time.monotonic() - started) * 1000
            turn = Turn(
                request=request,
                model=model or "unknown",
                text=self.text,
                chunks=self.stream_chunks,
                usage=self.usage,
                seq=self._next_seq(),
                dimensions=self.embedding_dimensions,
                models=self.models,
            )
            answer = decide_answer(route, turn, fault, method, path)
            response_headers = self._response_headers(answer, turn, spans, fault, started, overhead_ms)
            recorded = RecordedRequest(
                method, path, query, headers, body, payload, answer.status, response_headers, fault
            )
            with self._lock:
                self._requests.append(recorded)
            if fault is not None:
                self._pause(fault.delay)
            usage = self.usage if route is not None and answer.status < 400 else None
            self._write(handler, answer, response_headers, spans, usage, fault.chunk_delay if fault else 0.0)
        except _Stopping:
            handler.close_connection = True
            spans.end(None, "gateway_stopped")
        except OSError:
            # The client went away (or stop() cut the connection): a gateway sees that as a failed exchange.
            handler.close_connection = True
            spans.end(None, "client_disconnected")
        finally:
            spans.end(500, "gateway_error")  # no-op unless something above raised

    def _pause(self, seconds: float) -> None:
        """Sleep, unless stop() is called meanwhile: then raise ``_Stopping`` so nothing more is sent."""
        if seconds > 0:
            self._stopping.wait(seconds)
        if self._stopping.is_set():
            raise _Stopping

    def _response_headers(
        self, answer: Answer, turn: Turn, spans: ExchangeSpans, fault: Fault | None, started: float, overhead_ms: float
    ) -> dict[str, str]:
        """Framing headers, then the gateway's own, then the test's extras, then the fault's (later ones win)."""
        headers = {"content-type": answer.content_type}
        if answer.events is not None:
            headers.update({"transfer-encoding": "chunked", "cache-control": "no-cache"})
        else:
            headers["content-length"] = str(len(answer.body))
        if self.gateway_headers:
            headers.update(_gateway_headers(turn, started, overhead_ms))
        if (traceresponse := spans.traceresponse()) is not None:
            headers["traceresponse"] = traceresponse
        headers.update(lower_headers(self.response_headers.items()))
        if fault is not None:
            headers.update(lower_headers(fault.headers.items()))
        return headers

    def _write(
        self,
        handler: Handler,
        answer: Answer,
        headers: Mapping[str, str],
        spans: ExchangeSpans,
        usage: TokenUsage | None,
        chunk_delay: float,
    ) -> None:
        if answer.events is None:
            spans.end(answer.status, answer.error, usage)
            handler.send_head(answer.status, headers)
            handler.wfile.write(answer.body)
            return
        handler.send_head(answer.status, headers)
        events = answer.events[: answer.stop_after]
        for i, event in enumerate(events):
            if i:
                self._pause(chunk_delay)
            if i == len(events) - 1 and answer.stop_after is None:
                spans.end(answer.status, None, usage)  # before the final event leaves: see the module docstring
            handler.send_chunk(event)
        spans.end(answer.status, answer.error, usage)
        if answer.error_event is not None:
            handler.send_chunk(answer.error_event)
        if answer.drop_connection:
            handler.close_connection = True  # the body ends without its terminating chunk
            return
        handler.wfile.write(b"0\r\n\r\n")


def _gateway_headers(turn: Turn, started: float, overhead_ms: float) -> dict[str, str]:
    """LiteLLM's response headers (§4 of the gateway reference) and Envoy's upstream time."""
    elapsed_ms = (time.monotonic() - started) * 1000
    cost = turn.usage.input_tokens * 1e-6 + turn.usage.output_tokens * 2e-6
    return {
        "x-litellm-call-id": str(uuid.UUID(int=turn.seq)),
        "x-litellm-model-id": hashlib.sha256(turn.model.encode()).hexdigest()[:16],
        "x-litellm-model-group": turn.model,
        "x-litellm-response-cost": repr(cost),
        "x-litellm-response-duration-ms": f"{elapsed_ms:.3f}",
        "x-litellm-overhead-duration-ms": f"{overhead_ms:.3f}",
        "x-litellm-attempted-retries": "0",
        "x-litellm-attempted-fallbacks": "0",
        "x-envoy-upstream-service-time": str(int(elapsed_ms)),
    }
