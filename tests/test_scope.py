"""aigw_trace.attributes() and enrich(): scoped attributes on GenAI spans, across nesting, tasks and threads."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from typing import Any

import pytest

import aigw_trace
from aigw_trace import _attributes as A
from tests.conftest import Reply
from tests.providers.test_openai_chat import MESSAGES, completion


def chat(client: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES)


@pytest.fixture
def client(fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    return openai_client()


def test_scope_adds_conversation_user_and_custom_attributes(aigw_telemetry, client):
    with aigw_trace.attributes(conversation_id="c-42", user_id="u-7", tenant="acme", tier=3):
        chat(client)
    chat(client)
    inside, outside = aigw_telemetry.genai_spans()
    assert inside.attributes[A.CONVERSATION_ID] == "c-42"
    assert inside.attributes[A.USER_ID] == "u-7"
    assert inside.attributes["tenant"] == "acme"
    assert inside.attributes["tier"] == 3
    assert A.CONVERSATION_ID not in outside.attributes


def test_nested_scopes_merge_and_inner_wins(aigw_telemetry, client):
    with aigw_trace.attributes(conversation_id="outer", team="a"), aigw_trace.attributes(team="b", step="x"):
        chat(client)
    attrs = aigw_telemetry.span().attributes
    assert (attrs[A.CONVERSATION_ID], attrs["team"], attrs["step"]) == ("outer", "b", "x")


def test_bad_values_are_dropped_with_one_warning(aigw_telemetry, client, caplog):
    caplog.set_level(logging.WARNING)
    with aigw_trace.attributes(ok="yes", bad={"nested": 1}, mixed=[1, "a"], fine=[1, 2]):
        chat(client)
    attrs = aigw_telemetry.span().attributes
    assert attrs["ok"] == "yes"
    assert attrs["fine"] == (1, 2)
    assert "bad" not in attrs
    assert "mixed" not in attrs
    (record,) = [r for r in caplog.records if "dropped attribute" in r.getMessage()]
    assert "'bad'" in record.getMessage()
    assert "'mixed'" in record.getMessage()


def test_decorator_on_a_function(aigw_telemetry, client):
    @aigw_trace.attributes(conversation_id="fn")
    def handle() -> str:
        return chat(client).id

    assert handle() == "chatcmpl-1"
    assert aigw_telemetry.span().attributes[A.CONVERSATION_ID] == "fn"


async def test_decorator_on_a_coroutine_follows_its_task(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client(is_async=True)

    @aigw_trace.attributes(conversation_id="task")
    async def handle(n: int) -> None:
        await asyncio.sleep(0)
        with aigw_trace.attributes(n=n):
            await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    await asyncio.gather(handle(1), handle(2), client.chat.completions.create(model="gpt-4o", messages=MESSAGES))
    scoped = {(s.attributes.get(A.CONVERSATION_ID), s.attributes.get("n")) for s in aigw_telemetry.genai_spans()}
    assert scoped == {("task", 1), ("task", 2), (None, None)}


def test_decorator_on_a_generator_is_active_only_while_it_runs(aigw_telemetry, client):
    @aigw_trace.attributes(conversation_id="gen")
    def produce() -> Any:
        yield chat(client).id
        yield chat(client).id

    gen = produce()
    next(gen)
    chat(client)  # between the generator's steps: outside the scope
    next(gen)
    first, between, second = aigw_telemetry.genai_spans()
    assert first.attributes[A.CONVERSATION_ID] == "gen"
    assert A.CONVERSATION_ID not in between.attributes
    assert second.attributes[A.CONVERSATION_ID] == "gen"


def test_decorated_generator_forwards_send_and_throw():
    @aigw_trace.attributes(x=1)
    def echo() -> Any:
        got = yield "ready"
        try:
            yield f"got {got}"
        except KeyError:
            yield "caught"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("hi") == "got hi"
    assert gen.throw(KeyError("k")) == "caught"


async def test_decorator_on_an_async_generator(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    client = openai_client(is_async=True)

    @aigw_trace.attributes(conversation_id="agen")
    async def produce() -> Any:
        yield (await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)).id

    assert [x async for x in produce()] == ["chatcmpl-1"]
    assert aigw_telemetry.span().attributes[A.CONVERSATION_ID] == "agen"


def test_threads_get_the_scope_through_copy_context(aigw_telemetry, client):
    with aigw_trace.attributes(conversation_id="threaded"):
        ctx = contextvars.copy_context()
        plain = threading.Thread(target=chat, args=(client,))
        carried = threading.Thread(target=ctx.run, args=(chat, client))
        plain.start(), plain.join()
        carried.start(), carried.join()
    spans = aigw_telemetry.genai_spans()
    assert sorted(str(s.attributes.get(A.CONVERSATION_ID)) for s in spans) == ["None", "threaded"]


def test_enrich_adds_to_the_call_in_progress(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=completion()))
    results = []

    def hook(span: Any, info: Any) -> None:
        results.append(aigw_trace.enrich(user_id="from-hook", ticket="T-1"))

    aigw_telemetry.instrument(request_hook=hook)
    chat(openai_client())
    assert aigw_trace.enrich(user_id="nobody") is False  # no call in progress
    assert results == [True]
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.USER_ID] == "from-hook"
    assert attrs["ticket"] == "T-1"
