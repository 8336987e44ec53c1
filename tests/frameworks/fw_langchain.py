"""langchain-openai and langchain-anthropic over the SDKs: invoke, stream, ainvoke, astream; OpenAI chat
completions and the Responses API (``use_responses_api=True``), Anthropic messages. Run by ``nox -s frameworks``."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI

from .conftest import ITEM3, STREAM_USAGE, asked_for_usage, counted_once_as_on_the_span, gap

MODELS = [
    pytest.param("openai-chat", id="openai-chat"),
    pytest.param("openai-responses", id="openai-responses"),
    pytest.param("anthropic", id="anthropic"),
]
STREAM_MODELS = [
    pytest.param("openai-chat", id="openai-chat", marks=gap(ITEM3)),
    pytest.param("openai-responses", id="openai-responses"),
    pytest.param("anthropic", id="anthropic"),
]


def chat(fw: Any, model: str) -> Any:
    gw = fw.gateway
    if model == "anthropic":
        return ChatAnthropic(model="claude-haiku-4-5", base_url=gw.anthropic_base_url, api_key="test", max_retries=0)
    return ChatOpenAI(
        model="gpt-4o-mini",
        base_url=gw.openai_base_url,
        api_key="test",
        max_retries=0,
        use_responses_api=model == "openai-responses",
    )


def summary(message: Any) -> tuple[Any, ...]:
    usage = message.usage_metadata or {}
    return (type(message).__name__, message.text, usage.get("input_tokens"), usage.get("output_tokens"))


def joined(chunks: list[Any]) -> tuple[Any, ...]:
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    return (*summary(total), len(chunks) > 1)


@pytest.mark.parametrize("model", MODELS)
def test_invoke(fw: Any, model: str) -> None:
    fw.check(lambda: summary(chat(fw, model).invoke("hi")))


@pytest.mark.parametrize("model", MODELS)
async def test_ainvoke(fw: Any, model: str) -> None:
    async def call() -> Any:
        return summary(await chat(fw, model).ainvoke("hi"))

    await fw.acheck(call)


@pytest.mark.parametrize("model", STREAM_MODELS)
def test_stream(fw: Any, model: str) -> None:
    fw.check(lambda: joined(list(chat(fw, model).stream("hi"))), usage=model != "openai-chat")


@pytest.mark.parametrize("model", STREAM_MODELS)
async def test_astream(fw: Any, model: str) -> None:
    async def call() -> Any:
        return joined([c async for c in chat(fw, model).astream("hi")])

    await fw.acheck(call, usage=model != "openai-chat")


def test_stream_usage_option(fw: Any) -> None:
    """aigw-trace's ``stream_usage`` on the stream ChatOpenAI does not ask usage for: the request asks, the span has
    usage, counted once, and LangChain's chunks (its own usage included) are what they are without the option."""
    traced = fw.check(lambda: joined(list(chat(fw, "openai-chat").stream("hi"))), options=STREAM_USAGE)
    assert asked_for_usage(traced)
    counted_once_as_on_the_span(traced)


async def test_astream_usage_option(fw: Any) -> None:
    async def call() -> Any:
        return joined([c async for c in chat(fw, "openai-chat").astream("hi")])

    traced = await fw.acheck(call, options=STREAM_USAGE)
    assert asked_for_usage(traced)
    counted_once_as_on_the_span(traced)


@pytest.mark.parametrize("model", MODELS)
def test_invoke_error(fw: Any, model: str) -> None:
    from aigw_trace.testing import Fault

    def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        return summary(chat(fw, model).invoke("hi"))

    fw.check(call, error=True)
