"""Zero-code: ``opentelemetry-instrument python app.py`` with the ``auto`` extra, as docs/zero-code.md says.

A subprocess runs a tiny app under ``opentelemetry-instrument``; the app makes one openai chat call through a
:class:`~aigw_trace.testing.LoopbackGateway`; the spans go over OTLP/HTTP to a receiver on 127.0.0.1 in this test.
The trace must arrive joined: the gateway saw a ``traceparent`` of the app's GenAI span.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "zero-code.md"
MODEL = "gpt-4o-mini"
PROMPT = "where do traces join?"

TINY_APP = f"""
import json

import openai
from opentelemetry import trace

from aigw_trace.testing import LoopbackGateway

# The gateway keeps its own spans to itself (a no-op tracer), as a remote gateway would.
with LoopbackGateway(tracer_provider=trace.NoOpTracerProvider()) as gateway:
    client = openai.OpenAI(base_url=gateway.openai_base_url, api_key="test", max_retries=0)
    reply = client.chat.completions.create(model={MODEL!r}, messages=[{{"role": "user", "content": {PROMPT!r}}}])
    print(json.dumps({{"reply": reply.choices[0].message.content, "traceparent": gateway.last_request.traceparent}}))
"""

_RESPONSES = {
    "/v1/traces": ExportTraceServiceResponse,
    "/v1/metrics": ExportMetricsServiceResponse,
    "/v1/logs": ExportLogsServiceResponse,
}


@dataclass
class Receiver:
    """What the OTLP/HTTP receiver got: decoded spans, and the count of posts per path."""

    url: str
    spans: list[dict[str, Any]] = field(default_factory=list)
    posts: dict[str, int] = field(default_factory=dict)


def _decode_spans(body: bytes) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest.FromString(body)
    out = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: kv.value.string_value for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attributes = {}
                for kv in span.attributes:
                    kind = kv.value.WhichOneof("value")
                    attributes[kv.key] = getattr(kv.value, kind) if kind != "array_value" else str(kv.value)
                out.append(
                    {
                        "name": span.name,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "kind": span.kind,
                        "scope": scope_spans.scope.name,
                        "service": resource.get("service.name"),
                        "attributes": attributes,
                    }
                )
    return out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            encoding = (self.headers.get("content-encoding") or "").lower()
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            response = _RESPONSES.get(self.path)
            if response is None or self.headers.get("content-type") != "application/x-protobuf":
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            with lock:
                got.posts[self.path] = got.posts.get(self.path, 0) + 1
                if self.path == "/v1/traces":
                    got.spans.extend(_decode_spans(body))
            payload = response().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    got.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield got
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def instrumented_run(tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    app = tmp_path / "tiny_app.py"
    app.write_text(textwrap.dedent(TINY_APP), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AIGW_TRACE_", "PYTEST_"))}
    # No proxy may catch loopback traffic. The httpx/httpx2 instrumentation (in this suite's environment, not in the
    # auto extra) would put its own HTTP span between the GenAI span and the gateway.
    base.update(NO_PROXY="127.0.0.1", no_proxy="127.0.0.1", OTEL_PYTHON_DISABLED_INSTRUMENTATIONS="httpx,httpx2")
    instrument = Path(sys.executable).with_name("opentelemetry-instrument")
    done = subprocess.run(
        [str(instrument), sys.executable, str(app)],
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    result["stderr"] = done.stderr
    return result


def documented_run_lines() -> dict[str, str]:
    """The ``export NAME=value`` lines of the first shell block under "## Run" in docs/zero-code.md."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"^## Run\n.*?^```sh\n(.*?)^```", text, re.S | re.M)
    assert block is not None
    exports = re.findall(r"^export (\w+)=(\S+)", block.group(1), re.M)
    assert "opentelemetry-instrument python app.py" in block.group(1)
    return dict(exports)


def test_the_documented_lines_send_one_joined_trace(tmp_path, receiver):
    documented = documented_run_lines()
    assert set(documented) == {"OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL"}
    env = {
        **documented,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,  # instead of the docs' localhost:4318
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",  # an option, by its variable
    }
    result = instrumented_run(tmp_path, env)
    assert result["reply"] == "pong"
    assert "Traceback" not in result["stderr"], result["stderr"]
    assert "Failed to export" not in result["stderr"], result["stderr"]

    (span,) = [s for s in receiver.spans if s["name"] == f"chat {MODEL}"]
    assert span["service"] == documented["OTEL_SERVICE_NAME"]
    assert span["scope"] == "aigw_trace"
    assert span["kind"] == 3  # SPAN_KIND_CLIENT
    assert span["parent_span_id"] == ""  # the app's call is its own root here
    attributes = span["attributes"]
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert PROMPT in attributes["gen_ai.input.messages"]  # the env var option works in this mode

    version, trace_id, parent_id, _flags = result["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", span["trace_id"], span["span_id"])
    assert receiver.posts.get("/v1/metrics", 0) >= 1  # the one endpoint serves all three signals


def test_without_the_protocol_line_the_app_runs_untraced_as_the_docs_warn(tmp_path, receiver):
    env = {**documented_run_lines(), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    del env["OTEL_EXPORTER_OTLP_PROTOCOL"]
    result = instrumented_run(tmp_path, env)
    assert result["reply"] == "pong"  # the app itself is unharmed
    assert result["traceparent"] is None
    assert "Requested component 'otlp_proto_grpc' not found" in result["stderr"]
    assert receiver.spans == []
