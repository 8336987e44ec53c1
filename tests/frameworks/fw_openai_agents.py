"""openai-agents over the openai SDK: Responses and Chat Completions models; run, run_sync, run_streamed; its own
(non-OTel) tracing off and on. Run by ``nox -s frameworks`` (see conftest.py)."""

from __future__ import annotations

from typing import Any

import agents
import openai
import pytest
from agents import Agent, OpenAIChatCompletionsModel, OpenAIResponsesModel, Runner

from .conftest import ITEM3, STREAM_USAGE, asked_for_usage, counted_once_as_on_the_span, gap


class Collect(agents.TracingProcessor):
    """A local trace processor: the framework's tracing is on, nothing is exported."""

    def __init__(self) -> None:
        self.spans: list[str] = []

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        pass

    def on_span_start(self, span: Any) -> None:
        pass

    def on_span_end(self, span: Any) -> None:
        self.spans.append(type(span.span_data).__name__)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


@pytest.fixture(params=["tracing-off", "tracing-on"])
def agents_tracing(request: pytest.FixtureRequest) -> Any:
    collect = Collect()
    agents.set_trace_processors([collect])  # replaces the exporter to the OpenAI platform
    agents.set_tracing_disabled(request.param == "tracing-off")
    yield collect if request.param == "tracing-on" else None
    agents.set_tracing_disabled(True)


def agent(fw: Any, api: str) -> Agent:
    client = openai.AsyncOpenAI(base_url=fw.gateway.openai_base_url, api_key="test", max_retries=0)
    fw.own(client)
    model_cls = OpenAIResponsesModel if api == "responses" else OpenAIChatCompletionsModel
    return Agent(name="a", instructions="be brief", model=model_cls(model="gpt-4o-mini", openai_client=client))


def summary(result: Any) -> tuple[Any, ...]:
    usage = result.context_wrapper.usage
    return (result.final_output, usage.requests, usage.input_tokens, usage.output_tokens)


API = pytest.mark.parametrize("api", ["responses", "chat"])


@API
async def test_run(fw: Any, agents_tracing: Any, api: str) -> None:
    async def call() -> Any:
        return summary(await Runner.run(agent(fw, api), "hi"))

    await fw.acheck(call)
    if agents_tracing is not None:
        assert "GenerationSpanData" in agents_tracing.spans or "ResponseSpanData" in agents_tracing.spans


@API
def test_run_sync(fw: Any, agents_tracing: Any, api: str) -> None:
    fw.check(lambda: summary(Runner.run_sync(agent(fw, api), "hi")))


async def _streamed(fw: Any, api: str) -> Any:
    result = Runner.run_streamed(agent(fw, api), "hi")
    kinds = [event.type async for event in result.stream_events()]
    return (*summary(result), sorted(set(kinds)))


async def test_run_streamed_responses(fw: Any, agents_tracing: Any) -> None:
    await fw.acheck(lambda: _streamed(fw, "responses"))


@gap(ITEM3)
async def test_run_streamed_chat(fw: Any, agents_tracing: Any) -> None:
    await fw.acheck(lambda: _streamed(fw, "chat"), usage=False)


async def test_run_streamed_chat_usage_option(fw: Any, agents_tracing: Any) -> None:
    """aigw-trace's ``stream_usage``: the Chat Completions model's stream asks for usage, the span has it, counted
    once; the run's result (its usage, 0 without the chunk) and events are what they are without the option."""
    traced = await fw.acheck(lambda: _streamed(fw, "chat"), options=STREAM_USAGE)
    assert asked_for_usage(traced)
    counted_once_as_on_the_span(traced)


async def test_run_error(fw: Any, agents_tracing: Any) -> None:
    from aigw_trace.testing import Fault

    async def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        return summary(await Runner.run(agent(fw, "responses"), "hi"))

    await fw.acheck(call, error=True)
