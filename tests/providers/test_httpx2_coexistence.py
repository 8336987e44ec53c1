"""With ``HTTPX2ClientInstrumentor`` also active: GenAI span → one HTTP span per attempt → the gateway.

The HTTP instrumentation wraps the real transports only, so these tests talk to a loopback HTTP server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
import openai
import pytest
from opentelemetry.instrumentation.httpx import HTTPX2ClientInstrumentor
from opentelemetry.trace import SpanKind

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import ids
from tests.providers.test_openai_responses import events, response_body

CHAT = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def answer_json(value: Any, status: int = 200, **headers: str) -> Answer:
    return Answer(status, json.dumps(value).encode(), headers=headers)


@dataclass
class Gateway:
    """A loopback HTTP server answering from a queue (the last answer repeats), recording request headers."""

    url: str = ""
    answers: list[Answer] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def next(self) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def parent(self, index: int = 0) -> tuple[str, str]:
        _, trace_id, span_id, _ = self.headers[index]["traceparent"].split("-")
        return trace_id, span_id


def _handler(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length:
                self.rfile.read(length)
            gateway.headers.append({k.lower(): v for k, v in self.headers.items()})
            answer = gateway.next()
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.body)))
            for key, value in answer.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(answer.body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def http_instrumented(aigw_telemetry: Any) -> Iterator[None]:
    instrumentor = HTTPX2ClientInstrumentor()
    instrumentor.instrument(
        tracer_provider=aigw_telemetry.tracer_provider, meter_provider=aigw_telemetry.meter_provider
    )
    try:
        yield
    finally:
        instrumentor.uninstrument()


def client(gateway: Gateway, *, is_async: bool = False, max_retries: int = 0) -> Any:
    if is_async:
        return openai.AsyncOpenAI(api_key="test", base_url=gateway.url, max_retries=max_retries,
                                  http_client=httpx2.AsyncClient(trust_env=False))  # fmt: skip
    return openai.OpenAI(api_key="test", base_url=gateway.url, max_retries=max_retries,
                         http_client=httpx2.Client(trust_env=False))  # fmt: skip


def http_spans(telemetry: Any) -> list[Any]:
    genai = {id(s) for s in telemetry.genai_spans()}
    return sorted((s for s in telemetry.spans() if id(s) not in genai), key=lambda s: s.start_time)


def assert_nested(telemetry: Any, gateway: Gateway, attempts: int = 1, method: str = "POST") -> Any:
    genai = telemetry.span()
    attempts_seen = http_spans(telemetry)
    assert len(attempts_seen) == attempts
    for index, http in enumerate(attempts_seen):
        assert http.kind is SpanKind.CLIENT
        assert http.name.split(" ")[0] == method
        assert http.parent.span_id == genai.get_span_context().span_id
        assert gateway.parent(index) == ids(http)  # the gateway's parent is the attempt's HTTP span
    return genai


def test_chat_nests_the_http_span(aigw_telemetry, http_instrumented, gateway):
    gateway.answers.append(answer_json(CHAT))
    client(gateway).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])
    genai = assert_nested(aigw_telemetry, gateway)
    assert genai.name == "chat gpt-4o"
    assert genai.attributes[A.SERVER_ADDRESS] == "127.0.0.1"
    assert ids(genai)[0] == gateway.parent()[0]


def test_each_retry_is_its_own_http_span_under_the_call(aigw_telemetry, http_instrumented, gateway):
    gateway.answers += [answer_json({"error": {"message": "busy"}}, 503, **{"retry-after-ms": "1"}),
                        answer_json(response_body())]  # fmt: skip
    client(gateway, max_retries=1).responses.create(model="gpt-4.1", input="ping")
    genai = assert_nested(aigw_telemetry, gateway, attempts=2)
    assert genai.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert gateway.parent(0) != gateway.parent(1)


def test_stream_nests_the_http_span(aigw_telemetry, http_instrumented, gateway):
    body = b"".join(sse(events(), named=True, done=False))
    gateway.answers.append(Answer(body=body, content_type="text/event-stream"))
    kinds = [e.type for e in client(gateway).responses.create(model="gpt-4.1", input="ping", stream=True)]
    assert kinds[-1] == "response.completed"
    genai = assert_nested(aigw_telemetry, gateway)
    assert genai.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert genai.attributes[A.USAGE_OUTPUT_TOKENS] == 6


def test_generic_endpoint_nests_the_http_span(aigw_telemetry, http_instrumented, gateway):
    gateway.answers.append(answer_json({"object": "list", "data": [], "has_more": False}))
    client(gateway).files.list()
    assert assert_nested(aigw_telemetry, gateway, method="GET").name == "files.list"


async def test_async_nests_the_http_span(aigw_telemetry, http_instrumented, gateway):
    gateway.answers.append(answer_json({"object": "list", "data": [{"embedding": [0.1], "index": 0}],
                                        "model": "e", "usage": {"prompt_tokens": 2, "total_tokens": 2}}))  # fmt: skip
    await client(gateway, is_async=True).embeddings.create(model="e", input="a", encoding_format="float")
    assert assert_nested(aigw_telemetry, gateway).name == "embeddings e"


def test_without_http_instrumentation_the_gateway_parent_is_the_genai_span(aigw_telemetry, gateway):
    gateway.answers.append(answer_json(CHAT))
    client(gateway).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "ping"}])
    assert http_spans(aigw_telemetry) == []
    assert gateway.parent() == ids(aigw_telemetry.span())
