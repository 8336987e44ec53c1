"""The litellm SDK's ``openai/`` provider (which calls the openai SDK): completion and acompletion, streamed and
not; litellm's own ``otel`` callback off and on. Run by ``nox -s frameworks`` (see conftest.py).

litellm's ``anthropic/`` provider and ``litellm.responses()`` do not go through the SDKs (docs/frameworks.md)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import litellm
import pytest
from litellm.integrations.opentelemetry import OpenTelemetry, OpenTelemetryConfig

from .conftest import ITEM2, ITEM3, gap

OTEL = [pytest.param(False, id="otel-off"), pytest.param(True, id="otel-on", marks=gap(ITEM2))]
STREAM_OTEL = [
    pytest.param(False, id="otel-off", marks=gap(ITEM3)),
    pytest.param(True, id="otel-on", marks=gap(f"{ITEM2}; {ITEM3}")),
]
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def otel(fw: Any, request: pytest.FixtureRequest) -> Any:
    """litellm's OpenTelemetry callback on the test's in-memory providers (never the console or a collector)."""
    if request.param:
        t = fw.telemetry
        config = OpenTelemetryConfig(exporter="console", enable_metrics=True, skip_set_global=True)
        litellm.callbacks = [
            OpenTelemetry(config=config, tracer_provider=t.tracer_provider, meter_provider=t.meter_provider)
        ]
    fw.litellm_spans = 0
    yield request.param
    # litellm copies callbacks into its success/failure lists: reset them all, or the next case still calls this one
    litellm.logging_callback_manager._reset_all_callbacks()


def litellm_spans(fw: Any) -> int:
    return len([s for s in fw.telemetry.spans() if s.instrumentation_scope.name == "litellm"])


def logged(fw: Any, otel: bool, result: Any) -> Any:
    """``result``, once litellm's callback has logged the call: it does so after the call returns (a worker thread
    or task), so without waiting its span and metrics may or may not be there when the checks run."""
    if otel:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if litellm_spans(fw) > fw.litellm_spans:
                break
            time.sleep(0.02)
        else:
            raise AssertionError("litellm's otel callback logged nothing within 5 s")
        fw.litellm_spans = litellm_spans(fw)
    return result


async def alogged(fw: Any, otel: bool, result: Any) -> Any:
    if otel:
        for _ in range(250):
            if litellm_spans(fw) > fw.litellm_spans:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("litellm's otel callback logged nothing within 5 s")
        fw.litellm_spans = litellm_spans(fw)
    return result


def kwargs(fw: Any, **more: Any) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "api_base": fw.gateway.openai_base_url,
        "api_key": "test",
        "messages": MESSAGES,
        "num_retries": 0,
        **more,
    }


def summary(response: Any) -> tuple[Any, ...]:
    return (response.choices[0].message.content, response.usage.prompt_tokens, response.usage.completion_tokens)


def text(chunks: list[Any]) -> tuple[Any, ...]:
    return ("".join(c.choices[0].delta.content or "" for c in chunks if c.choices), len(chunks) > 1)


@pytest.mark.parametrize("otel", OTEL, indirect=True)
def test_completion(fw: Any, otel: bool) -> None:
    fw.check(lambda: logged(fw, otel, summary(litellm.completion(**kwargs(fw)))))


@pytest.mark.parametrize("otel", OTEL, indirect=True)
async def test_acompletion(fw: Any, otel: bool) -> None:
    async def call() -> Any:
        return await alogged(fw, otel, summary(await litellm.acompletion(**kwargs(fw))))

    await fw.acheck(call)


@pytest.mark.parametrize("otel", STREAM_OTEL, indirect=True)
def test_completion_stream(fw: Any, otel: bool) -> None:
    fw.check(lambda: logged(fw, otel, text(list(litellm.completion(**kwargs(fw, stream=True))))), usage=False)


@pytest.mark.parametrize("otel", STREAM_OTEL, indirect=True)
async def test_acompletion_stream(fw: Any, otel: bool) -> None:
    async def call() -> Any:
        return await alogged(fw, otel, text([c async for c in await litellm.acompletion(**kwargs(fw, stream=True))]))

    await fw.acheck(call, usage=False)


@pytest.mark.parametrize("otel", [False], indirect=True, ids=["otel-off"])
def test_completion_error(fw: Any, otel: bool) -> None:
    from aigw_trace.testing import Fault

    def call() -> Any:
        fw.gateway.inject(Fault.error(400, "bad request"))
        return summary(litellm.completion(**kwargs(fw)))

    fw.check(call, error=True)
