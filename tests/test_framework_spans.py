"""Under a framework's own GenAI instrumentation, no GenAI metric is counted twice: under its GenAI client span
(pydantic-ai's, say), and in a litellm call whose ``otel`` callback records metrics after the call returns.

aigw-trace still makes its span (the one the gateway joins), but leaves the metrics to the instrumentation that
already records them for this call; ``metrics_under_genai_spans=True`` records them too.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from aigw_trace import _attributes as A
from aigw_trace._framework_telemetry import _MAX_DEPTH, framework_records_metrics
from tests.conftest import Reply, parent_of
from tests.providers.test_openai_chat import MESSAGES, stream_chunks
from tests.providers.test_openai_chat import completion as completion_body

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
    fake_api.reply(Reply(chunks=stream_chunks()) if stream else Reply(json=completion_body()))
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
    fake_api.reply(Reply(json=completion_body()))
    _call(aigw_telemetry, openai_client(), kind=kind, attributes=attributes)
    assert sorted(p.attributes[A.TOKEN_TYPE] for p in _ours(aigw_telemetry, TOKEN_METRIC)) == ["input", "output"]


def test_the_option_records_them_anyway(aigw_telemetry, fake_api, openai_client):
    aigw_telemetry.instrument(metrics_under_genai_spans=True)
    fake_api.reply(Reply(json=completion_body()))
    _call(aigw_telemetry, openai_client(), kind=SpanKind.CLIENT, attributes={A.OPERATION_NAME: "chat"})
    assert len(_ours(aigw_telemetry, TOKEN_METRIC)) == 2
    assert len(_ours(aigw_telemetry, "gen_ai.client.operation.duration")) == 1


def test_a_call_inside_an_aigw_trace_span_still_records(aigw_telemetry, fake_api, openai_client):
    """Only another instrumentation's span defers the metrics (e.g. a call made from a response hook is ours)."""
    fake_api.reply(Reply(json=completion_body()))
    own = aigw_telemetry.tracer_provider.get_tracer("aigw_trace")
    with own.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes={A.OPERATION_NAME: "chat"}):
        openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(_ours(aigw_telemetry, TOKEN_METRIC)) == 2


# --- litellm's otel callback: no span around the call, metrics recorded after it returns ---------------------------
#
# A stand-in for the parts of litellm that aigw_trace._framework_telemetry reads (the real litellm runs in
# `nox -s frameworks`, tests/frameworks/fw_litellm.py): its `@client` logging wrapper, the OpenTelemetry callback
# class with its `config.enable_metrics`, the global callback lists and the internal-call contextvar.


def client(original):
    """Like litellm.utils.client: every function it decorates runs inside `wrapper` or `wrapper_async`."""

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        return original(*args, **kwargs)

    @functools.wraps(original)
    async def wrapper_async(*args, **kwargs):
        return await original(*args, **kwargs)

    return wrapper_async if inspect.iscoroutinefunction(original) else wrapper


@dataclass
class _Config:
    enable_metrics: bool


class OpenTelemetry:
    def __init__(self, enable_metrics: bool) -> None:
        self.config = _Config(enable_metrics)


@pytest.fixture
def litellm(monkeypatch):
    """A stand-in ``litellm`` in ``sys.modules`` (its callback lists empty, as after ``import litellm``)."""
    modules = {
        name: types.ModuleType(name)
        for name in ("litellm", "litellm.utils", "litellm.integrations.opentelemetry", "litellm._internal_context")
    }
    root = modules["litellm"]
    root.callbacks, root.success_callback, root._async_success_callback = [], [], []
    root.utils = modules["litellm.utils"]
    modules["litellm.utils"].client = client
    modules["litellm.integrations.opentelemetry"].OpenTelemetry = OpenTelemetry
    internal = contextvars.ContextVar("is_internal_call", default=False)
    modules["litellm._internal_context"].is_internal_call = internal
    root.internal = internal
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    return root


@client
def completion(call, **kwargs):
    """A litellm entry point: what it calls runs inside litellm's logging wrapper."""
    return call()


@client
async def acompletion(call, **kwargs):
    return await call()


def test_no_litellm_no_framework_metrics(monkeypatch):
    monkeypatch.delitem(sys.modules, "litellm", raising=False)
    assert completion(framework_records_metrics) is False


@pytest.mark.parametrize("where", ["callbacks", "success_callback", "_async_success_callback"])
def test_inside_litellm_with_its_otel_metrics_the_metrics_are_litellms(litellm, where):
    getattr(litellm, where).append(OpenTelemetry(enable_metrics=True))
    assert completion(framework_records_metrics) is True
    assert framework_records_metrics() is False  # the same process, a call not made through litellm


async def test_inside_litellm_async(litellm):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))

    async def sdk_call():
        await asyncio.sleep(0)  # resumed by the loop: the awaiting coroutines are still its callers
        return framework_records_metrics()

    assert await acompletion(sdk_call) is True


@pytest.mark.parametrize(
    "setup",
    [
        pytest.param(lambda litellm: None, id="no-callback"),
        pytest.param(lambda litellm: litellm.callbacks.append(OpenTelemetry(enable_metrics=False)), id="spans-only"),
        pytest.param(lambda litellm: litellm.callbacks.append(object()), id="another-callback"),
    ],
)
def test_litellm_without_otel_metrics_leaves_them_to_us(litellm, setup):
    setup(litellm)
    assert completion(framework_records_metrics) is False


def test_a_call_litellm_will_not_log_is_ours(litellm):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))
    assert completion(framework_records_metrics, **{"no-log": True}) is False
    litellm.global_disable_no_log_param = True  # litellm then logs no-log calls too
    assert completion(framework_records_metrics, **{"no-log": True}) is True
    token = litellm.internal.set(True)  # an internal sub-call: litellm logs it only through its parent
    try:
        assert completion(framework_records_metrics) is False
    finally:
        litellm.internal.reset(token)


def test_too_deep_below_litellm_counts_as_not_litellm(litellm):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))

    def deep(n):
        return deep(n - 1) if n else framework_records_metrics()

    assert completion(lambda: deep(_MAX_DEPTH)) is False
    assert completion(lambda: deep(_MAX_DEPTH // 2)) is True


def test_litellm_of_another_shape_is_ignored_quietly(litellm, monkeypatch, caplog):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))
    monkeypatch.setitem(sys.modules, "litellm.utils", types.ModuleType("litellm.utils"))  # no `client` decorator
    assert completion(framework_records_metrics) is False

    class Broken:
        def get(self):
            raise RuntimeError("boom")

    from aigw_trace import _safety

    monkeypatch.setattr(_safety, "_seen", set())
    monkeypatch.setitem(sys.modules, "litellm.utils", litellm.utils)
    sys.modules["litellm._internal_context"].is_internal_call = Broken()
    with caplog.at_level(logging.WARNING, logger="aigw_trace"):
        assert completion(framework_records_metrics) is False
        assert completion(framework_records_metrics) is False
    assert [r.getMessage() for r in caplog.records] == [
        "aigw-trace: instrumentation failed in recognising litellm's otel callback; the SDK call continues untouched"
    ]  # one line, once


def _through_litellm(aigw_telemetry, fake_api, openai_client, litellm, *, stream=False):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))
    fake_api.reply(Reply(chunks=stream_chunks()) if stream else Reply(json=completion_body()))
    sdk = openai_client()

    def call():
        if stream:
            return list(sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True,
                                                    stream_options={"include_usage": True}))  # fmt: skip
        return sdk.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    completion(call)
    (ours,) = [s for s in aigw_telemetry.spans() if s.instrumentation_scope.name == "aigw_trace"]
    return ours


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_through_litellm_with_its_otel_metrics_ours_are_left_out(aigw_telemetry, fake_api, openai_client, litellm,
                                                                  stream):  # fmt: skip
    ours = _through_litellm(aigw_telemetry, fake_api, openai_client, litellm, stream=stream)
    # The span is ours as always, with usage, and it is what the gateway's request names...
    trace_id, parent_id, _ = parent_of(fake_api.headers[0])
    assert (int(trace_id, 16), int(parent_id, 16)) == (ours.context.trace_id, ours.context.span_id)
    assert A.USAGE_INPUT_TOKENS in ours.attributes
    # ...but litellm's callback records this call's metrics after it returns.
    for name in ("gen_ai.client.operation.duration", TOKEN_METRIC, "gen_ai.client.operation.time_to_first_chunk"):
        assert _ours(aigw_telemetry, name) == [], name


def test_through_litellm_the_option_records_ours_too(aigw_telemetry, fake_api, openai_client, litellm):
    aigw_telemetry.instrument(metrics_under_genai_spans=True)
    _through_litellm(aigw_telemetry, fake_api, openai_client, litellm)
    assert sorted(p.attributes[A.TOKEN_TYPE] for p in _ours(aigw_telemetry, TOKEN_METRIC)) == ["input", "output"]


def test_litellm_imported_but_a_direct_sdk_call_records(aigw_telemetry, fake_api, openai_client, litellm):
    litellm.callbacks.append(OpenTelemetry(enable_metrics=True))
    fake_api.reply(Reply(json=completion_body()))
    openai_client().chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert sorted(p.attributes[A.TOKEN_TYPE] for p in _ours(aigw_telemetry, TOKEN_METRIC)) == ["input", "output"]
