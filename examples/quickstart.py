"""aigw-trace in one screen: an OpenAI call through a (fake, loopback) AI gateway, joined into one trace.

    python examples/quickstart.py
    opentelemetry-instrument --traces_exporter console python examples/quickstart.py   # zero-code variant

No network and no API key: the "gateway" is a tiny HTTP server on 127.0.0.1 that answers like OpenAI and
remembers the ``traceparent`` it received.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import openai
from opentelemetry import trace

import aigw_trace

received: list[str] = []


class Gateway(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        received.append(self.headers.get("traceparent", "<none>"))
        body = json.dumps({
            "id": "chatcmpl-demo", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    finished = []
    if not aigw_trace.AIGatewayInstrumentor().is_instrumented_by_opentelemetry:
        # Plain `python`: keep finished spans in memory to print them below.
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        aigw_trace.instrument()
        finished = exporter.get_finished_spans  # type: ignore[assignment]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = openai.OpenAI(api_key="not-needed", base_url=f"http://127.0.0.1:{server.server_port}/v1")
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}])
    server.shutdown()

    print(f"reply: {reply.choices[0].message.content}")
    print(f"traceparent the gateway received: {received[0]}")
    if finished:
        (span,) = finished()  # type: ignore[operator]
        ctx = span.get_span_context()
        print(f"GenAI span: {span.name!r}  trace={ctx.trace_id:032x}  span={ctx.span_id:016x}")
        for key, value in sorted(span.attributes.items()):
            print(f"  {key} = {value}")


if __name__ == "__main__":
    main()
