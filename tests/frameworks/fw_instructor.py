"""instructor with its anthropic extra (anthropic 0.x, which sends through ``httpx``): structured output parsed
from Anthropic messages, sync and async, and a streamed partial. Run by ``nox -s frameworks`` (see conftest.py)."""

from __future__ import annotations

from typing import Any

import anthropic
import instructor
import pydantic
import pytest

MESSAGES = [{"role": "user", "content": "answer in JSON"}]


class Answer(pydantic.BaseModel):
    answer: str


@pytest.fixture(autouse=True)
def json_text(fw: Any) -> None:
    fw.gateway.text = '{"answer": "pong"}'  # what the loopback model says, for ANTHROPIC_JSON mode to parse


def client(fw: Any, cls: Any = anthropic.Anthropic) -> Any:
    sdk = fw.own(cls(base_url=fw.gateway.anthropic_base_url, api_key="test", max_retries=0))
    return instructor.from_anthropic(sdk, mode=instructor.Mode.ANTHROPIC_JSON)


def kwargs() -> dict[str, Any]:
    return {"model": "claude-haiku-4-5", "max_tokens": 64, "messages": MESSAGES, "max_retries": 0}


def summary(answer: Any, completion: Any) -> tuple[Any, ...]:
    return (answer.model_dump(), completion.usage.input_tokens, completion.usage.output_tokens)


def test_create(fw: Any) -> None:
    fw.check(lambda: summary(*client(fw).messages.create_with_completion(response_model=Answer, **kwargs())))


async def test_acreate(fw: Any) -> None:
    async def call() -> Any:
        c = client(fw, anthropic.AsyncAnthropic)
        return summary(*await c.messages.create_with_completion(response_model=Answer, **kwargs()))

    await fw.acheck(call)


def test_create_partial(fw: Any) -> None:
    def call() -> Any:
        parts = list(client(fw).messages.create_partial(response_model=Answer, **kwargs()))
        return (parts[-1].model_dump(), len(parts) > 0)

    fw.check(call)


def test_create_error(fw: Any) -> None:
    from aigw_trace.testing import Fault

    def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        return client(fw).messages.create(response_model=Answer, **kwargs())

    fw.check(call, error=True)
