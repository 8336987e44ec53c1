"""httpx's and httpx2's header list read and written directly (``_gateway_headers.flat_headers``) behaves as the
public methods it stands in for: the same headers reach the gateway, the same response headers reach the span.

Each test makes two calls: a headers class is probed on the first one seen (read through its methods), and the
second call takes the direct path.
"""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
import openai
import pytest

from aigw_trace import _attributes as A
from aigw_trace._gateway_headers import FLAT_HEADERS, flat_headers
from tests.conftest import Reply, ids, parent_of
from tests.providers.test_openai_chat import MESSAGES, completion

CLIENT_TRACEPARENT = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"


def chat(client: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


def test_the_http_libraries_headers_are_read_directly_and_nothing_else_is() -> None:
    assert flat_headers(httpx2.Headers)
    assert flat_headers(httpx.Headers)
    assert not flat_headers(dict)

    class Headers(dict[str, str]):  # the right name in the wrong module
        pass

    assert not flat_headers(Headers)


def test_a_headers_class_that_keeps_more_than_its_list_is_read_through_its_methods() -> None:
    class Headers(httpx2.Headers):
        """What a release with an index beside ``_list`` would look like: an appended entry is not seen."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._seen = {key.lower() for key, _ in self.multi_items()}

        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key, default) if key.lower() in self._seen else default

    Headers.__module__ = "httpx2._models"
    try:
        assert not flat_headers(Headers)
    finally:
        FLAT_HEADERS.pop(Headers, None)


def test_a_traceparent_among_the_http_clients_own_headers_is_replaced_not_doubled(aigw_telemetry, fake_api):
    fake_api.reply(Reply(json=completion()))
    http = httpx2.Client(transport=httpx2.MockTransport(fake_api.handler), headers={"traceparent": CLIENT_TRACEPARENT})
    client = openai.OpenAI(api_key="sk-test", base_url="http://gateway.test:4000/v1", max_retries=0, http_client=http)
    chat(client)
    chat(client)
    spans = aigw_telemetry.spans()
    assert len(spans) == 2
    for headers, span in zip(fake_api.headers, spans, strict=True):
        assert len(headers.get_list("traceparent")) == 1
        assert parent_of(headers)[:2] == ids(span)


def test_the_injected_headers_are_what_the_header_class_would_store(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client()
    chat(client)
    chat(client)
    for headers, span in zip(fake_api.headers, aigw_telemetry.spans(), strict=True):
        value = headers["traceparent"]
        flags = span.get_span_context().trace_flags
        assert value == f"00-{ids(span)[0]}-{ids(span)[1]}-{flags:02x}"
        assert (b"traceparent", value.encode()) in headers.raw
        assert "TraceParent" in headers
        assert headers.get_list("traceparent") == [value]


@pytest.mark.parametrize("name", ["traceresponse", "TraceResponse"])
def test_traceresponse_is_found_in_any_case_on_every_call(aigw_telemetry, fake_api, openai_client, name):
    value = "00-" + "4bf92f3577b34da6a3ce929d0e0e4736" + "-00f067aa0ba902b7-01"
    fake_api.reply(Reply(json=completion(), headers={name: value}))
    client = openai_client()
    chat(client)
    chat(client)
    spans = aigw_telemetry.spans()
    assert len(spans) == 2
    assert all(span.attributes[A.AIGW_GATEWAY_SPAN_ID] == "00f067aa0ba902b7" for span in spans)


def test_a_response_without_traceresponse_records_no_gateway_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), headers={"x-other": "1"}))
    client = openai_client()
    chat(client)
    chat(client)
    assert all(A.AIGW_GATEWAY_SPAN_ID not in span.attributes for span in aigw_telemetry.spans())


@pytest.mark.aigw_options(response_headers=["x-request-id", "x-absent"])
def test_allow_listed_response_headers_are_found_in_any_case_on_every_call(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion(), headers={"X-Request-Id": "req-1"}))
    client = openai_client()
    chat(client)
    chat(client)
    for span in aigw_telemetry.spans():
        assert span.attributes[A.AIGW_RESPONSE_HEADER_PREFIX + "x-request-id"] == "req-1"
        assert A.AIGW_RESPONSE_HEADER_PREFIX + "x-absent" not in span.attributes
