"""pydantic-ai over the openai and anthropic SDKs: OpenAI chat and Responses, Anthropic; run, run_sync, run_stream;
its own OpenTelemetry instrumentation off and on. Run by ``nox -s frameworks`` (see conftest.py)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from pydantic_ai import Agent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.instrumented import InstrumentationSettings
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.openai import OpenAIProvider

MODELS = ["openai-chat", "openai-responses", "anthropic"]
INSTRUMENT = [
    pytest.param(False, id="instrument-off"),
    pytest.param(True, id="instrument-on"),  # its GenAI client span encloses aigw-trace's; metrics counted once
]


def agent(fw: Any, model: str, instrument: bool) -> Agent:
    if model == "anthropic":
        client: Any = anthropic.AsyncAnthropic(base_url=fw.gateway.anthropic_base_url, api_key="test", max_retries=0)
        llm: Any = AnthropicModel("claude-haiku-4-5", provider=AnthropicProvider(anthropic_client=client))
    else:
        client = openai.AsyncOpenAI(base_url=fw.gateway.openai_base_url, api_key="test", max_retries=0)
        cls = OpenAIChatModel if model == "openai-chat" else OpenAIResponsesModel
        llm = cls("gpt-4o-mini", provider=OpenAIProvider(openai_client=client))
    fw.own(client)
    settings: Any = False
    if instrument:  # its spans and metrics go to the same in-memory providers as aigw-trace's
        t = fw.telemetry
        settings = InstrumentationSettings(tracer_provider=t.tracer_provider, meter_provider=t.meter_provider)
    # 2.78's Agent() takes no ``instrument=``: Agent.instrument_all() is the switch (reset after each case)
    Agent.instrument_all(settings)
    return Agent(llm, instructions="be brief")


@pytest.fixture(autouse=True)
def instrumentation_off() -> Any:
    yield
    Agent.instrument_all(False)


def summary(output: Any, usage: Any) -> tuple[Any, ...]:
    return (output, usage.requests, usage.input_tokens, usage.output_tokens)


@pytest.mark.parametrize("instrument", INSTRUMENT)
@pytest.mark.parametrize("model", MODELS)
async def test_run(fw: Any, model: str, instrument: bool) -> None:
    async def call() -> Any:
        result = await agent(fw, model, instrument).run("hi")
        return summary(result.output, result.usage())

    await fw.acheck(call)


@pytest.mark.parametrize("instrument", INSTRUMENT)
@pytest.mark.parametrize("model", MODELS)
def test_run_sync(fw: Any, model: str, instrument: bool) -> None:
    def call() -> Any:
        result = agent(fw, model, instrument).run_sync("hi")
        return summary(result.output, result.usage())

    fw.check(call)


@pytest.mark.parametrize("instrument", INSTRUMENT)
@pytest.mark.parametrize("model", MODELS)
async def test_run_stream(fw: Any, model: str, instrument: bool) -> None:
    async def call() -> Any:
        async with agent(fw, model, instrument).run_stream("hi") as result:
            texts = [t async for t in result.stream_output(debounce_by=None)]
        return (*summary(texts[-1], result.usage()), len(texts) > 0)

    await fw.acheck(call)


@pytest.mark.parametrize("model", MODELS)
async def test_run_error(fw: Any, model: str) -> None:
    from aigw_trace.testing import Fault

    async def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        result = await agent(fw, model, False).run("hi")
        return summary(result.output, result.usage())

    await fw.acheck(call, error=True)
