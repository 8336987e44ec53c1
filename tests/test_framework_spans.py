"""Under a framework's own GenAI client span (pydantic-ai's, say), no GenAI metric is counted twice.

aigw-trace still makes its span (the one the gateway joins, a child of the framework's), but leaves the metrics to
the instrumentation that already records them for this call; ``metrics_under_genai_spans=True`` records them too.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from aigw_trace import _attributes as A
from tests.conftest import Reply, parent_of
from tests.providers.test_openai_chat import MESSAGES, completion, stream_chunks

TOKEN_METRIC = "gen_ai.client.token.usage"


def _ours(telemetry: Any, name: str) -> list[Any]:
    return [p for p in telemetry.metric_points(name) if p.attributes.get(A.PROVIDER_NAME) == "openai"]


def _call(telemetry: Any, client: Any, *, kind: SpanKind, attributes: dict[str, Any], stream: bool = False) -> Any:
    framework = telemetry.tracer_provider.get_tracer("a.framework")
    with framework.start_as_current_span("chat gpt-4o", kind=kind, attributes=attributes) as outer:
        if stream:
            list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True}))  # fmt: skip
        else:
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    return outer


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_inside_a_framework_genai_client_span_metrics_are_left_to_it(aigw_telemetry, fake_api, openai_client, stream):
    fake_api.reply(Reply(chunks=stream_chunks()) if stream else Reply(json=completion()))
    outer = _call(aigw_telemetry, openai_client(), kind=SpanKind.CLIENT,
                  attributes={A.OPERATION_NAME: "chat", A.REQUEST_MODEL: "gpt-4o"}, stream=stream)  # fmt: skip
    (ours,) = [s for s in aigw_telemetry.spans() if s.instrumentation_scope.name == "aigw_trace"]
    # Our span is still there, a child of the framework's, and it is what the gateway's request names.
    assert ours.parent.span_id == outer.get_span_context().span_id
    trace_id, parent_id, _ = parent_of(fake_api.headers[0])
    assert (int(trace_id, 16), int(parent_id, 16)) == (ours.context.trace_id, ours.context.span_id)
    assert A.USAGE_INPUT_TOKENS in ours.attributes
    # ...but none of our metrics: the framework's instrumentation counts this call.
    for name in ("gen_ai.client.operation.duration", TOKEN_METRIC, "gen_ai.client.operation.time_to_first_chunk"):
        assert _ours(aigw_telemetry, name) == [], name


@pytest.mark.parametrize(
    ("kind", "attributes"),
    [
        (SpanKind.CLIENT, {"http.request.method": "POST"}),  # a client span that is not a GenAI one
        (SpanKind.INTERNAL, {A.OPERATION_NAME: "chat"}),  # litellm's callback writes gen_ai.* on the caller's span
        (SpanKind.SERVER, {A.OPERATION_NAME: "chat"}),
    ],
    ids=["http-client", "internal-genai", "server-genai"],
)
def test_any_other_enclosing_span_changes_nothing(aigw_telemetry, fake_api, openai_client, kind, attributes):
    fake_api.reply(Reply(json=completion()))
    _call(aigw_telemetry, openai_client(), kind=kind, attributes=attributes)
    assert sorted(p.attributes[A.TOKEN_TYPE] for p in _ours(aigw_telemetry, TOKEN_METRIC)) == ["input", "output"]


def test_the_option_records_them_anyway(aigw_telemetry, fake_api, openai_client):
    aigw_telemetry.instrument(metrics_under_genai_spans=True)
    fake_api.reply(Reply(json=completion()))
    _call(aigw_telemetry, openai_client(), kind=SpanKind.CLIENT, attributes={A.OPERATION_NAME: "chat"})
    assert len(_ours(aigw_telemetry, TOKEN_METRIC)) == 2
    assert len(_ours(aigw_telemetry, "gen_ai.client.operation.duration")) == 1


def test_a_call_inside_an_aigw_trace_span_still_records(aigw_telemetry, fake_api, openai_client):
    """Only another instrumentation's span defers the metrics (e.g. a call made from a response hook is ours)."""
    fake_api.reply(Reply(json=completion()))
    own = aigw_telemetry.tracer_provider.get_tracer("aigw_trace")
    with own.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={A.OPERATION_NAME: "chat"}):
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(_ours(aigw_telemetry, TOKEN_METRIC)) == 2
