"""Example: testing your own LLM code's telemetry with aigw-trace's pytest fixtures.

Runs as part of aigw-trace's own suite, so it stays true. Copy it into your project: the fixtures come with the
package (pytest plugin ``aigw_trace``), no conftest needed.
"""

from __future__ import annotations

import openai
import pytest

import aigw_trace
from aigw_trace.testing import Fault

# --- your application code (normally imported from your package) ---


def answer(client: openai.OpenAI, question: str, *, conversation: str) -> str:
    with aigw_trace.attributes(conversation_id=conversation):
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": question}])
    return reply.choices[0].message.content or ""


# --- its tests ---


@pytest.fixture
def client(aigw_gateway):
    # max_retries=1 lets the retry test below see the SDK retry once.
    return openai.OpenAI(base_url=aigw_gateway.openai_base_url, api_key="test", max_retries=1)


def test_answer_is_traced_through_the_gateway(aigw_telemetry, aigw_gateway, client):
    assert answer(client, "ping", conversation="c-1") == "pong"

    (joined,) = aigw_telemetry.assert_joined()  # client span → gateway server span → upstream span, one trace
    span = joined.client
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.conversation.id"] == "c-1"
    assert span.attributes["gen_ai.usage.output_tokens"] > 0
    assert aigw_gateway.last_request.parent_span_id == format(span.context.span_id, "016x")


def test_a_rate_limited_call_is_retried_inside_one_span(aigw_telemetry, aigw_gateway, client):
    aigw_gateway.inject(Fault.rate_limited())

    assert answer(client, "ping", conversation="c-2") == "pong"

    (joined,) = aigw_telemetry.assert_joined()
    assert len(joined.gateway) == 2  # one server span per HTTP attempt, both under the one GenAI span
    assert joined.client.status.is_ok


def test_token_metrics_are_recorded(aigw_telemetry, aigw_gateway, client):
    answer(client, "ping", conversation="c-3")
    points = {
        p.attributes["gen_ai.token.type"]: p.sum for p in aigw_telemetry.metric_points("gen_ai.client.token.usage")
    }
    assert points["input"] > 0
    assert points["output"] > 0


@pytest.mark.aigw_options(capture_content="span_only")
def test_prompts_are_recorded_only_when_asked(aigw_telemetry, aigw_gateway, client):
    answer(client, "what is 2+2?", conversation="c-4")
    assert "what is 2+2?" in aigw_telemetry.span().attributes["gen_ai.input.messages"]
