"""LlamaIndex's OpenAI LLM (llama-index-llms-openai, which pins openai<3, so the SDK sends through ``httpx``):
complete, chat, stream_chat and their async forms. Run by ``nox -s frameworks`` (see conftest.py)."""

from __future__ import annotations

from typing import Any

from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI

from .conftest import ITEM3, STREAM_USAGE, asked_for_usage, counted_once_as_on_the_span, gap

MESSAGES = [ChatMessage(role="user", content="hi")]


def llm(fw: Any) -> OpenAI:
    return OpenAI(model="gpt-4o-mini", api_base=fw.gateway.openai_base_url, api_key="test", max_retries=0)


def deltas(responses: Any) -> list[tuple[Any, bool]]:
    """What the app sees of a stream: each delta, and whether its raw chunk carries usage."""
    return [(r.delta, getattr(r.raw, "usage", None) is not None) for r in responses]


async def adeltas(responses: Any) -> list[tuple[Any, bool]]:
    return [(r.delta, getattr(r.raw, "usage", None) is not None) async for r in responses]


def summary(response: Any) -> tuple[Any, ...]:
    raw = response.raw
    usage = getattr(raw, "usage", None)
    return (str(response), getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))


def test_complete(fw: Any) -> None:
    fw.check(lambda: summary(llm(fw).complete("hi")))


def test_chat(fw: Any) -> None:
    fw.check(lambda: summary(llm(fw).chat(MESSAGES)))


async def test_achat(fw: Any) -> None:
    async def call() -> Any:
        return summary(await llm(fw).achat(MESSAGES))

    await fw.acheck(call)


@gap(ITEM3)
def test_stream_chat(fw: Any) -> None:
    fw.check(lambda: [r.delta for r in llm(fw).stream_chat(MESSAGES)], usage=False)


@gap(ITEM3)
async def test_astream_chat(fw: Any) -> None:
    async def call() -> Any:
        return [r.delta async for r in await llm(fw).astream_chat(MESSAGES)]

    await fw.acheck(call, usage=False)


def test_stream_chat_usage_option(fw: Any) -> None:
    """aigw-trace's ``stream_usage``: the request asks for usage, the span has it, counted once; LlamaIndex's deltas
    are what they are without the option."""
    traced = fw.check(lambda: deltas(llm(fw).stream_chat(MESSAGES)), options=STREAM_USAGE)
    assert asked_for_usage(traced)
    counted_once_as_on_the_span(traced)


async def test_astream_chat_usage_option(fw: Any) -> None:
    async def call() -> Any:
        return await adeltas(await llm(fw).astream_chat(MESSAGES))

    traced = await fw.acheck(call, options=STREAM_USAGE)
    assert asked_for_usage(traced)
    counted_once_as_on_the_span(traced)


def test_chat_error(fw: Any) -> None:
    from aigw_trace.testing import Fault

    def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        return summary(llm(fw).chat(MESSAGES))

    fw.check(call, error=True)
