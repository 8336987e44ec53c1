"""Trace-context injection and the request wrapper's promises: parentage, flags, caller headers, suppression."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import baggage, context, propagate, trace
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from aigw_trace import _attributes as A
from tests.conftest import Reply, ids, parent_of
from tests.providers.test_openai_chat import MESSAGES, completion


def call(client: Any, **kwargs: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, **kwargs)


def test_header_points_at_the_exported_genai_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    call(openai_client())
    span = aigw_telemetry.span()
    trace_id, parent, sampled = parent_of(fake_api.headers[0])
    assert (trace_id, parent) == ids(span)
    assert sampled is True


def test_genai_span_continues_the_callers_trace(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        call(openai_client())
    span = aigw_telemetry.span()
    assert span.parent.span_id == outer.get_span_context().span_id
    assert parent_of(fake_api.headers[0])[0] == ids(span)[0]


def test_unsampled_calls_reach_the_gateway_unsampled(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    parent = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.DEFAULT))  # fmt: skip
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(parent)))
    try:
        call(openai_client())
    finally:
        context.detach(token)
    trace_id, _, sampled = parent_of(fake_api.headers[0])
    assert trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert sampled is False
    assert aigw_telemetry.genai_spans() == []
    # Metrics do not depend on sampling.
    assert aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)[0].count == 1


def test_callers_traceparent_wins_and_their_dict_is_not_mutated(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    mine = "00-11111111111111111111111111111111-2222222222222222-01"
    extra = {"traceparent": mine}
    call(openai_client(), extra_headers=extra)
    assert extra == {"traceparent": mine}
    assert fake_api.headers[0]["traceparent"] == mine
    assert "tracestate" not in fake_api.headers[0]


def test_default_headers_traceparent_wins(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    mine = "00-11111111111111111111111111111111-3333333333333333-00"
    call(openai_client(default_headers={"traceparent": mine}))
    assert fake_api.headers[0]["traceparent"] == mine


def test_callers_header_wins_whatever_its_case_and_keeps_our_tracestate_out(aigw_telemetry, fake_api,
                                                                           openai_client):  # fmt: skip
    fake_api.reply(Reply(json=completion()))
    mine = "00-11111111111111111111111111111111-4444444444444444-01"
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    state = trace.TraceState([("vendor", "value")])
    remote = SpanContext(0x5 << 64, 0x6, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    with trace.use_span(NonRecordingSpan(remote)), tracer.start_as_current_span("outer"):
        call(openai_client(), extra_headers={"TraceParent": mine})
    assert fake_api.headers[0]["traceparent"] == mine
    assert "tracestate" not in fake_api.headers[0]


def test_an_omitted_traceparent_is_not_sent(aigw_telemetry, fake_api, openai_client):
    # `Omit()` is the SDK's way to remove a header: the caller asked for none, so none is injected either.
    import openai

    fake_api.reply(Reply(json=completion()))
    call(openai_client(), extra_headers={"traceparent": openai.Omit()})
    assert "traceparent" not in fake_api.headers[0]
    assert aigw_telemetry.span().name == "chat gpt-4o"


def test_a_transport_level_traceparent_does_not_stop_the_injection(aigw_telemetry, fake_api):
    # Headers fixed on the httpx2 client are defaults for every request, not this call's intent: a static
    # traceparent there would tie every call to one trace.
    import httpx2
    import openai

    fake_api.reply(Reply(json=completion()))
    fixed = {"traceparent": "00-11111111111111111111111111111111-2222222222222222-01"}
    http = httpx2.Client(transport=httpx2.MockTransport(fake_api.handler), headers=fixed)
    client = openai.OpenAI(api_key="sk-test", base_url="http://gateway.test:4000/v1", http_client=http, max_retries=0)
    call(client)
    assert fake_api.headers[0].get_list("traceparent") == [fake_api.headers[0]["traceparent"]]
    assert parent_of(fake_api.headers[0])[:2] == ids(aigw_telemetry.span())


def test_injection_checks_the_built_headers_when_the_client_keeps_no_default_headers(aigw_telemetry):
    # A Stainless-like client without `_custom_headers`: the headers themselves say what the caller set.
    import httpx2

    from aigw_trace import _inject
    from aigw_trace._call import current_call

    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("outer") as outer:
        fake_call = type("FakeCall", (), {"inject_context": context.get_current(), "session_id": None})()
        theirs = httpx2.Headers({"TraceParent": "00-11111111111111111111111111111111-2222222222222222-01"})
        _inject.inject_headers(theirs, fake_call, (), object(), None)  # type: ignore[arg-type]
        empty = httpx2.Headers()
        _inject.inject_headers(empty, fake_call, (), object(), None)  # type: ignore[arg-type]
    assert current_call() is None
    assert theirs.get_list("traceparent") == ["00-11111111111111111111111111111111-2222222222222222-01"]
    assert parent_of(empty)[1] == ids(outer)[1]


def test_baggage_travels_with_the_default_propagators(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    token = context.attach(baggage.set_baggage("session.id", "s-1"))
    try:
        call(openai_client())
    finally:
        context.detach(token)
    assert fake_api.headers[0]["baggage"] == "session.id=s-1"


class _CustomPropagator(TextMapPropagator):
    def extract(self, carrier: Any, context: Any = None, getter: Any = None) -> Any:
        return context

    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        span = trace.get_current_span(context)
        carrier["x-custom-trace"] = format(span.get_span_context().span_id, "016x")

    @property
    def fields(self) -> set[str]:
        return {"x-custom-trace"}


def test_the_globally_configured_propagator_is_used(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(_CustomPropagator())
    try:
        call(openai_client())
    finally:
        propagate.set_global_textmap(previous)
    headers = fake_api.headers[0]
    assert "traceparent" not in headers
    assert headers["x-custom-trace"] == ids(aigw_telemetry.span())[1]


class _CapitalisedPropagator(_CustomPropagator):
    def inject(self, carrier: Any, context: Any = None, setter: Any = None) -> None:
        carrier["X-Custom-Trace"] = format(trace.get_current_span(context).get_span_context().span_id, "016x")


def test_a_callers_header_wins_over_a_propagator_that_names_it_in_capitals(aigw_telemetry, fake_api,
                                                                            openai_client):  # fmt: skip
    fake_api.reply(Reply(json=completion()))
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(_CapitalisedPropagator())
    try:
        call(openai_client(), extra_headers={"x-custom-trace": "mine"})
    finally:
        propagate.set_global_textmap(previous)
    assert fake_api.headers[0].get_list("x-custom-trace") == ["mine"]


def test_suppressed_instrumentation_makes_no_span_and_injects_nothing(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    with suppress_instrumentation():
        result = call(openai_client())
    assert result.id == "chatcmpl-1"
    assert aigw_telemetry.spans() == []
    assert "traceparent" not in fake_api.headers[0]


@pytest.mark.parametrize("keys_found", [True, False])
def test_suppression_is_honoured_with_or_without_the_helpers_context_keys(aigw_telemetry, fake_api, openai_client,
                                                                          monkeypatch, keys_found):  # fmt: skip
    # `begin` reads suppress_instrumentation()'s context keys directly; if a release moves them, the public helper.
    from aigw_trace import _wrap

    assert _wrap._SUPPRESS_KEYS is not None  # this opentelemetry-instrumentation has them where we look
    if not keys_found:
        monkeypatch.setattr(_wrap, "_SUPPRESS_KEYS", None)
    fake_api.reply(Reply(json=completion()), Reply(json=completion()))
    with suppress_instrumentation():
        call(openai_client())
    call(openai_client())
    assert len(aigw_telemetry.spans()) == 1
    assert "traceparent" not in fake_api.headers[0]
    assert "traceparent" in fake_api.headers[1]


@pytest.mark.aigw_options(propagate=False)
def test_propagation_can_be_turned_off_keeping_spans(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    call(openai_client())
    assert aigw_telemetry.span().name == "chat gpt-4o"
    assert "traceparent" not in fake_api.headers[0]
    import openai

    assert not hasattr(openai._base_client.BaseClient._build_request, "__wrapped__")  # nothing to do per attempt


def test_no_secret_or_request_header_reaches_the_span(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    call(openai_client(), extra_headers={"x-api-key": "also-secret"})
    flat = repr(dict(aigw_telemetry.span().attributes))
    assert "sk-test-secret" not in flat
    assert "also-secret" not in flat
    assert "authorization" not in flat.lower()


def test_server_attributes_follow_a_changed_base_url(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client(base_url="https://llm.example.com/v1")
    call(client)
    client.base_url = "http://other.example:8080/v1"
    call(client)
    first, second = aigw_telemetry.genai_spans()
    assert (first.attributes[A.SERVER_ADDRESS], first.attributes[A.SERVER_PORT]) == ("llm.example.com", 443)
    assert (second.attributes[A.SERVER_ADDRESS], second.attributes[A.SERVER_PORT]) == ("other.example", 8080)


def test_internal_failure_is_logged_once_and_the_call_proceeds(aigw_telemetry, fake_api, openai_client,
                                                               monkeypatch, caplog):  # fmt: skip
    from aigw_trace import _safety, _wrap

    monkeypatch.setattr(_safety, "_seen", set())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in aigw-trace")

    monkeypatch.setattr(_wrap.Instrumentation, "_constant_part", broken)
    fake_api.reply(Reply(json=completion()))
    client = openai_client()
    assert call(client).id == "chatcmpl-1"
    assert call(client).id == "chatcmpl-1"
    assert aigw_telemetry.spans() == []
    assert len([r for r in caplog.records if "instrumentation failed" in r.getMessage()]) == 1


def test_a_span_started_before_an_internal_failure_still_ends(aigw_telemetry, fake_api, openai_client, monkeypatch):
    from aigw_trace import _safety, _wrap

    monkeypatch.setattr(_safety, "_seen", set())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug in aigw-trace")

    monkeypatch.setattr(_wrap, "Call", broken)  # fails right after the span has started
    fake_api.reply(Reply(json=completion()))
    assert call(openai_client()).id == "chatcmpl-1"
    assert [s.name for s in aigw_telemetry.spans()] == ["chat gpt-4o"]  # ended (exported), not leaked
    assert "traceparent" not in fake_api.headers[0]


@pytest.mark.parametrize("shape", ["plain", "stream read to the end", "stream closed early"])
def test_a_finished_call_leaves_nothing_for_the_cycle_collector(aigw_telemetry, fake_api, openai_client, shape):
    # The SDK alone frees everything by reference counting; a cycle through our call (its context holds it, its
    # stream observer holds the stream that holds it) would leave every call's span and response to the collector.
    import gc

    from tests.providers.test_openai_chat import stream_chunks

    client = openai_client()

    def one_call() -> None:
        if shape == "plain":
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            return
        stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        if shape == "stream closed early":
            next(iter(stream))
            stream.close()
        else:
            list(stream)

    def left_for_the_collector() -> int:
        one_call()  # warm-up: first-use caches
        gc.collect()
        gc.disable()
        try:
            for _ in range(5):
                one_call()
            return gc.collect()
        finally:
            gc.enable()

    fake_api.reply(Reply(chunks=stream_chunks(3)) if shape != "plain" else Reply(json=completion()))
    import aigw_trace

    aigw_trace.uninstrument()
    sdk_alone = left_for_the_collector()
    if sdk_alone:
        # CPython 3.10's contextlib keeps a GeneratorExit traceback cycle when httpx2's ``iter_bytes`` generator is
        # closed mid-``with request_context()`` (fixed in 3.11): the response is in a cycle without us, and what
        # hangs off it (our span, observer) goes with it, so "nothing for the collector" cannot be told apart here.
        pytest.skip(f"the SDK alone leaves {sdk_alone} objects for the cycle collector on this Python")
    aigw_telemetry.instrument()
    assert left_for_the_collector() == 0
    assert len(aigw_telemetry.genai_spans()) == 6


def test_metric_attribute_sets_are_reused_per_response_model_and_bounded():
    from aigw_trace._metrics import MetricAttributes

    base = {A.OPERATION_NAME: "chat", A.REQUEST_MODEL: "gpt-4o"}
    metrics = MetricAttributes(base)
    duration, tokens_in, tokens_out = metrics.for_response("gpt-4o-2024-08-06")
    assert duration == {**base, A.RESPONSE_MODEL: "gpt-4o-2024-08-06"}
    assert tokens_in == {**duration, A.TOKEN_TYPE: "input"}
    assert tokens_out == {**duration, A.TOKEN_TYPE: "output"}
    assert metrics.for_response("gpt-4o-2024-08-06")[0] is duration  # built once, then reused
    assert metrics.for_response(None)[0] is base
    assert base == {A.OPERATION_NAME: "chat", A.REQUEST_MODEL: "gpt-4o"}
    for n in range(100):  # the response model is whatever the server says
        metrics.for_response(f"model-{n}")
    assert len(metrics.by_model) <= 16


def test_a_providers_metric_attributes_come_from_the_response_and_are_left_out_when_absent():
    from aigw_trace._metrics import MetricAttributes, response_key

    base = {A.OPERATION_NAME: "chat", A.REQUEST_MODEL: "gpt-4o"}
    keys = (A.OPENAI_RESPONSE_SERVICE_TIER, A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT)
    metrics = MetricAttributes(base, keys)
    span_attrs = {A.RESPONSE_MODEL: "gpt-4o-1", A.OPENAI_RESPONSE_SERVICE_TIER: "default", A.RESPONSE_ID: "x"}
    key = response_key(metrics, span_attrs)
    duration = metrics.for_response(key)[0]
    # What the response gave, and nothing for what it did not (no fingerprint here), nor for other span attributes.
    assert duration == {**base, A.RESPONSE_MODEL: "gpt-4o-1", A.OPENAI_RESPONSE_SERVICE_TIER: "default"}
    assert metrics.for_response(response_key(metrics, dict(span_attrs)))[0] is duration  # built once per response
    other = {**span_attrs, A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_2"}
    assert metrics.for_response(response_key(metrics, other))[0][A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT] == "fp_2"
    assert metrics.for_response(response_key(metrics, {}))[0] is base
    # A provider without such attributes keys by the response model alone, as before.
    assert response_key(MetricAttributes(base), span_attrs) == "gpt-4o-1"


def test_a_gateway_error_marks_only_its_own_metric_points(aigw_telemetry, fake_api, openai_client):
    # The error type goes on copies: the cached attribute sets the next successful call records with stay clean.
    failed = {"model": completion()["model"], "choices": None, "error": {"message": "boom", "type": "upstream_error"}}
    fake_api.reply(Reply(json=failed), Reply(json=completion()))
    client = openai_client()
    call(client)
    call(client)
    points = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert {p.attributes[A.RESPONSE_MODEL] for p in points} == {completion()["model"]}  # the same cached sets
    assert sorted(p.attributes.get(A.ERROR_TYPE, "none") for p in points) == ["none", "upstream_error"]


def _exemplars(aigw_telemetry: Any) -> dict[str, list[list[tuple[str, str]]]]:
    """Per GenAI metric, each point's exemplars as (trace id, span id), from one collection (the SDK keeps an
    exemplar for one collection only)."""
    names = (A.METRIC_OPERATION_DURATION, A.METRIC_TOKEN_USAGE, A.METRIC_TIME_TO_FIRST_CHUNK)
    return {
        name: [
            [(format(e.trace_id, "032x"), format(e.span_id, "016x")) for e in point.exemplars]
            for point in metric.data.data_points
        ]
        for name, metric in aigw_telemetry.metrics().items()
        if name in names
    }


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_metric_exemplars_name_the_calls_own_span(aigw_telemetry, fake_api, openai_client, stream):
    # Recorded in the call's context, as its log event: the SDK's default (trace-based) exemplar filter then names the
    # GenAI span, whether the call ends inside the SDK (plain) or in the caller's loop (stream), under a caller's span.
    from tests.providers.test_openai_chat import stream_chunks

    fake_api.reply(Reply(chunks=stream_chunks(3)) if stream else Reply(json=completion()))
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        if stream:
            for _ in call(openai_client(), stream=True, stream_options={"include_usage": True}):
                pass
        else:
            call(openai_client())
    span = aigw_telemetry.span()
    assert ids(span) != ids(outer)
    expected = {A.METRIC_OPERATION_DURATION: [[ids(span)]], A.METRIC_TOKEN_USAGE: [[ids(span)], [ids(span)]]}
    if stream:
        expected[A.METRIC_TIME_TO_FIRST_CHUNK] = [[ids(span)]]
    assert _exemplars(aigw_telemetry) == expected


def test_an_unsampled_call_leaves_no_exemplar(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    unsampled = NonRecordingSpan(SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(0)))
    token = context.attach(trace.set_span_in_context(unsampled))
    try:
        call(openai_client())
    finally:
        context.detach(token)
    assert _exemplars(aigw_telemetry) == {A.METRIC_OPERATION_DURATION: [[]], A.METRIC_TOKEN_USAGE: [[], []]}


# --- the current context, read and set through the API's own ContextVar -------------------------------------------


def test_the_api_runtime_context_is_used_directly_and_only_when_it_is_the_apis_own(monkeypatch):
    from opentelemetry import context as otel_context

    from aigw_trace import _call

    var = _call._runtime_context_var()
    assert var is not None  # the API's default runtime: the fast path is what the suite runs
    token = otel_context.attach(otel_context.set_value("k", "v"))
    try:
        assert var.get() is otel_context.get_current()
    finally:
        otel_context.detach(token)
    monkeypatch.setattr(otel_context, "_RUNTIME_CONTEXT", object())
    assert _call._runtime_context_var() is None


def test_calls_nest_and_inject_the_same_through_the_public_context_functions(aigw_telemetry, fake_api, openai_client,
                                                                            monkeypatch):  # fmt: skip
    # What runs when the runtime context is not the API's own: the public attach/detach/get_current.
    from aigw_trace import _install, _wrap

    monkeypatch.setattr(_install, "attach_context", context.attach)
    monkeypatch.setattr(_install, "reset_context", context.detach)
    monkeypatch.setattr(_install, "current_context", context.get_current)
    monkeypatch.setattr(_wrap, "current_context", context.get_current)
    aigw_telemetry.instrument()  # the patches bind these when installed
    fake_api.reply(Reply(json=completion()))
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("outer") as outer:
        call(openai_client())
        assert trace.get_current_span() is outer
    span = aigw_telemetry.span()
    assert span.parent.span_id == outer.get_span_context().span_id
    assert parent_of(fake_api.headers[0])[:2] == ids(span)


def test_a_token_that_cannot_be_reset_goes_to_the_apis_detach(aigw_telemetry, fake_api, openai_client, monkeypatch,
                                                               caplog):  # fmt: skip
    # ContextVar.reset raises for a token of another context; the API's detach logs that and never raises, and the
    # wrapper hands it the token as it did when it called detach directly.
    from aigw_trace import _install

    def refuse(token: Any) -> None:
        raise ValueError("token created in a different Context")

    handed: list[Any] = []
    real_detach = context.detach
    monkeypatch.setattr(_install, "reset_context", refuse)
    monkeypatch.setattr(_install.otel_context, "detach", lambda token: handed.append(token) or real_detach(token))
    aigw_telemetry.instrument()
    fake_api.reply(Reply(json=completion()))
    before = context.get_current()
    result = call(openai_client())
    assert result.id == "chatcmpl-1"
    assert len(handed) == 1
    assert context.get_current() is before  # the API's detach restored it
    assert aigw_telemetry.span().name == "chat gpt-4o"
