"""An SDK that sends through ``httpx`` is traced without importing ``httpx2``, whether or not ``httpx2`` is installed.

Runs where an installed openai (1.x, 2.x) or anthropic (0.x) release uses ``httpx`` (the ``tests-sdks`` sets); with
only httpx2-based releases installed there is nothing to check and it skips. A fresh interpreter per SDK, so
nothing this test process already imported counts.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.sdks.conftest import transport_of

_SCRIPT = """
import json, sys
import httpx
import {sdk}
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import aigw_trace

spans = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(spans))
aigw_trace.instrument(tracer_provider=provider)
reply = {reply!r}
http_client = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, json=reply)))
client = {sdk}.{cls}(api_key="sk-test", base_url="http://gateway.test:4000{path}", http_client=http_client)
{call}
traced = [s.instrumentation_scope.name for s in spans.get_finished_spans()]
print(json.dumps([traced, sorted(name for name in sys.modules if name.split(".")[0] in ("httpx2", "httpcore2"))]))
"""

_SDKS = {
    "openai": {
        "cls": "OpenAI",
        "path": "/v1",
        "call": "client.embeddings.create(model='m', input='ping')",
        "reply": {
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.1]}],
            "model": "m",
            "usage": {"prompt_tokens": 1, "total_tokens": 1},
        },
    },
    "anthropic": {
        "cls": "Anthropic",
        "path": "",
        "call": "client.messages.create(model='m', max_tokens=1, messages=[{'role': 'user', 'content': 'ping'}])",
        "reply": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "m",
            "content": [{"type": "text", "text": "pong"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    },
}


@pytest.mark.parametrize("sdk", list(_SDKS))
def test_an_httpx_sdk_call_imports_no_httpx2(sdk: str) -> None:
    pytest.importorskip(sdk, reason=f"{sdk} is not installed")
    if transport_of(sdk).__name__ != "httpx":
        pytest.skip(f"the installed {sdk} sends through {transport_of(sdk).__name__}")
    script = _SCRIPT.format(sdk=sdk, **_SDKS[sdk])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    traced, imported = json.loads(done.stdout.splitlines()[-1])
    assert traced == ["aigw_trace"], done.stderr
    assert imported == []
