"""End to end through a real LiteLLM proxy (``nox -s e2e-litellm`` only; not collected by ``nox -s tests``).

The app's SDK calls (traced by aigw-trace into memory) go to a LiteLLM proxy on 127.0.0.1, which forwards them to a
:class:`~aigw_trace.testing.LoopbackGateway` playing the provider and exports its own spans over OTLP/HTTP to a
receiver in this test. For every call: the proxy's server span is a child of the app's GenAI client span, and the
request the provider received carries the same trace. Recipe: docs/gateways/litellm.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from aigw_trace.testing import LoopbackGateway


class OtlpSink(ThreadingHTTPServer):
    """Receives ``POST /v1/traces`` (protobuf) on 127.0.0.1 and keeps every span with its service name."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, Any]] = []
        self.lock = threading.Lock()

        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with sink.lock:
                    for resource_spans in request.resource_spans:
                        attrs = resource_spans.resource.attributes
                        service = next((a.value.string_value for a in attrs if a.key == "service.name"), "")
                        for scope_spans in resource_spans.scope_spans:
                            sink.spans.extend((service, span) for span in scope_spans.spans)
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def in_trace(self, trace_id: int) -> list[tuple[str, Any]]:
        with self.lock:
            return [(s, span) for s, span in self.spans if int.from_bytes(span.trace_id, "big") == trace_id]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def proxy(tmp_path: Path, aigw_telemetry: Any) -> Iterator[dict[str, Any]]:
    litellm = shutil.which("litellm", path=os.path.dirname(sys.executable))
    if litellm is None:
        pytest.skip("litellm is not installed here: run `nox -s e2e-litellm`")
    provider = LoopbackGateway(tracer_provider=aigw_telemetry.tracer_provider_for("llm-provider"), text="pong")
    provider.start()
    sink = OtlpSink()
    port = _free_port()
    master_key = "sk-" + secrets.token_hex(16)
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: fake-gpt\n"
        f"    litellm_params: {{model: openai/fake-gpt, api_base: '{provider.openai_base_url}', "
        "api_key: sk-fake-upstream}\n"
        "litellm_settings:\n"
        '  callbacks: ["otel"]\n'
        "  forward_traceparent_to_llm_provider: true\n"
    )
    # A minimal environment: the caller's (and any credential in it) stays away from the proxy.
    env = {
        "PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LITELLM_MASTER_KEY": master_key,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_TELEMETRY": "False",
        "OTEL_EXPORTER": "otlp_http",
        "OTEL_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}/v1/traces",
        "OTEL_SERVICE_NAME": "litellm-proxy",
    }
    log = open(tmp_path / "proxy.log", "wb")  # noqa: SIM115 - closed after the process
    process = subprocess.Popen(
        [litellm, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("LiteLLM did not start:\n" + (tmp_path / "proxy.log").read_text()[-3000:])
            time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "key": master_key, "sink": sink, "provider": provider,
               "log": tmp_path / "proxy.log"}  # fmt: skip
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        log.close()
        provider.stop()
        sink.shutdown()


def test_each_call_is_one_trace_through_the_proxy(aigw_telemetry, proxy):
    oai = openai.OpenAI(base_url=proxy["url"] + "/v1", api_key=proxy["key"], max_retries=0)
    claude = anthropic.Anthropic(base_url=proxy["url"], api_key=proxy["key"], max_retries=0)
    messages = [{"role": "user", "content": "ping"}]

    assert oai.chat.completions.create(model="fake-gpt", messages=messages).choices[0].message.content == "pong"
    text = "".join(
        c.choices[0].delta.content or ""
        for c in oai.chat.completions.create(model="fake-gpt", messages=messages, stream=True)
        if c.choices
    )
    assert text == "pong"
    reply = claude.messages.create(model="fake-gpt", max_tokens=16, messages=messages)
    assert "pong" in "".join(getattr(b, "text", "") for b in reply.content)

    clients = aigw_telemetry.genai_spans()
    assert len(clients) == 3
    provider_traces = {r.headers.get("traceparent", "").split("-")[1] for r in proxy["provider"].requests
                       if r.headers.get("traceparent")}  # fmt: skip

    deadline = time.monotonic() + 30  # the proxy exports in batches, about every 5 s
    for client in clients:
        trace_id, span_id = client.context.trace_id, client.context.span_id
        while True:
            joined = [
                span
                for service, span in proxy["sink"].in_trace(trace_id)
                if service == "litellm-proxy" and int.from_bytes(span.parent_span_id or b"\0", "big") == span_id
            ]
            if joined or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert joined, (
            f"{client.name}: no proxy span under the client span; proxy log:\n" + proxy["log"].read_text()[-2000:]
        )
        assert format(trace_id, "032x") in provider_traces, f"{client.name}: the provider got another trace"
        assert {s.kind for s in joined} >= {2}, (
            f"{client.name}: no SERVER span (kind 2) of the proxy under the client span"
        )


@pytest.mark.aigw_options(propagate=False)
def test_without_propagation_the_proxy_starts_its_own_trace(aigw_telemetry, proxy):
    """The join above is aigw-trace's doing: with injection off the proxy's spans land in another trace."""
    oai = openai.OpenAI(base_url=proxy["url"] + "/v1", api_key=proxy["key"], max_retries=0)
    oai.chat.completions.create(model="fake-gpt", messages=[{"role": "user", "content": "ping"}])
    (client,) = aigw_telemetry.genai_spans()
    deadline = time.monotonic() + 30
    while not proxy["sink"].spans and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1)
    assert proxy["sink"].spans, "the proxy exported no spans"
    assert proxy["sink"].in_trace(client.context.trace_id) == []
    assert not [r for r in proxy["provider"].requests if r.headers.get("traceparent")]
