"""The same call records the same span whichever HTTP library carries it: ``httpx2`` (openai 3.x's default) or a
legacy ``httpx`` client the caller hands the SDK (``http_client=httpx.Client()``, as the litellm SDK does).

Every response kind, sync and async: the span lasts until the body is done and records the response model and
usage, and what the caller reads off the HTTP response (``elapsed`` included) answers as it does uninstrumented.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import json
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from aigw_trace import _attributes as A
from tests.providers.test_openai_chat import MESSAGES, completion, stream_chunks

LIBRARIES = ("httpx2", "httpx")
KINDS = ("plain", "stream", "raw", "raw_stream", "streaming_response", "streaming_response_stream")


def _server(library: Any, seen: list[Any]) -> tuple[Any, Any]:
    """Sync and async handlers answering chat completions; streamed bodies stay open until read, like a network's."""

    class Body(library.SyncByteStream, library.AsyncByteStream):  # type: ignore[misc, name-defined]
        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            for chunk in self._chunks:
                yield chunk

    def respond(request: Any) -> Any:
        seen.append(request)
        if json.loads(request.content).get("stream"):
            headers = {"content-type": "text/event-stream"}
            return library.Response(200, headers=headers, stream=Body(stream_chunks()))
        return library.Response(200, stream=Body([json.dumps(completion()).encode()]),
                                headers={"content-type": "application/json"})  # fmt: skip

    def handler(request: Any) -> Any:
        request.read()
        return respond(request)

    async def async_handler(request: Any) -> Any:
        await request.aread()
        return respond(request)

    return handler, async_handler


def _client(library_name: str, is_async: bool, seen: list[Any]) -> Any:
    library = importlib.import_module(library_name)
    handler, async_handler = _server(library, seen)
    kwargs: dict[str, Any] = {"api_key": "sk-test", "base_url": "http://gateway.test/v1", "max_retries": 0}
    if is_async:
        http = library.AsyncClient(transport=library.MockTransport(async_handler))
        return openai.AsyncOpenAI(http_client=http, **kwargs)
    return openai.OpenAI(http_client=library.Client(transport=library.MockTransport(handler)), **kwargs)


def _elapsed(http: Any) -> str:
    try:
        http.elapsed  # noqa: B018
    except Exception as exc:
        return type(exc).__name__
    return "ok"


def _call(client: Any, kind: str, probe: Any) -> tuple[Any, str]:
    """Make one call of ``kind``, reading it to the end; ``probe()`` runs while the body is still being read."""
    stream = kind.endswith("stream")
    kw: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    if stream:
        kw |= {"stream": True, "stream_options": {"include_usage": True}}
    completions = client.chat.completions
    if kind in ("plain", "stream"):
        result = completions.create(**kw)
        if stream:
            probe()
            result = [c.model for c in result], result.response
        else:
            result = result.model, None
    elif kind.startswith("raw"):
        raw = completions.with_raw_response.create(**kw)
        parsed = raw.parse()
        if stream:
            probe()
            result = [c.model for c in parsed], raw.http_response
        else:
            result = parsed.model, raw.http_response
    else:
        with completions.with_streaming_response.create(**kw) as response:
            probe()
            parsed = response.parse()
            result = ([c.model for c in parsed] if stream else parsed.model), response.http_response
    value, http = result
    return value, _elapsed(http) if http is not None else "n/a"


async def _acall(client: Any, kind: str, probe: Any) -> tuple[Any, str]:
    stream = kind.endswith("stream")
    kw: dict[str, Any] = {"model": "gpt-4o", "messages": MESSAGES}
    if stream:
        kw |= {"stream": True, "stream_options": {"include_usage": True}}
    completions = client.chat.completions
    if kind in ("plain", "stream"):
        result = await completions.create(**kw)
        if stream:
            probe()
            value, http = [c.model async for c in result], result.response
        else:
            value, http = result.model, None
    elif kind.startswith("raw"):
        raw = await completions.with_raw_response.create(**kw)
        parsed = raw.parse()  # a legacy raw response parses synchronously, also on the async client
        if inspect.isawaitable(parsed):
            parsed = await parsed
        if stream:
            probe()
            value = [c.model async for c in parsed]
        else:
            value = parsed.model
        http = raw.http_response
    else:
        async with completions.with_streaming_response.create(**kw) as response:
            probe()
            parsed = await response.parse()
            value = [c.model async for c in parsed] if stream else parsed.model
            http = response.http_response
    return value, _elapsed(http) if http is not None else "n/a"


def _run(library_name: str, is_async: bool, kind: str, probe: Any = lambda: None) -> tuple[Any, str, list[Any]]:
    seen: list[Any] = []
    client = _client(library_name, is_async, seen)
    if is_async:
        value, elapsed = asyncio.run(_acall(client, kind, probe))
    else:
        value, elapsed = _call(client, kind, probe)
    return value, elapsed, seen


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_every_response_kind_on_every_http_library(aigw_telemetry, library, is_async, kind):
    open_while_reading: list[int] = []
    _, _, seen = _run(library, is_async, kind, lambda: open_while_reading.append(len(aigw_telemetry.spans())))

    span = aigw_telemetry.span()
    assert len(aigw_telemetry.genai_spans()) == 1
    attrs = span.attributes
    assert attrs[A.RESPONSE_MODEL] in ("gpt-4o-2024-08-06", "gpt-4o-mini-2024")
    assert attrs[A.USAGE_INPUT_TOKENS] in (11, 7)
    assert A.USAGE_OUTPUT_TOKENS in attrs
    if kind.endswith("stream"):
        assert attrs[A.AIGW_STREAM_OUTCOME] == "completed"
        assert A.RESPONSE_TIME_TO_FIRST_CHUNK in attrs
    # The span was still open while the body was being read: it lasts until the body is done.
    assert open_while_reading in ([], [0])
    # Injected into the request that went out, naming this span.
    ctx = span.get_span_context()
    assert seen[-1].headers["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
    token_points = aigw_telemetry.metric_points("gen_ai.client.token.usage")
    assert {p.attributes[A.TOKEN_TYPE] for p in token_points} == {"input", "output"}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_the_caller_reads_the_same_values_and_elapsed_as_uninstrumented(request, library, is_async, kind):
    uninstrumented = _run(library, is_async, kind)[:2]
    telemetry = request.getfixturevalue("aigw_telemetry")
    instrumented = _run(library, is_async, kind)[:2]
    assert len(telemetry.genai_spans()) == 1
    # The same number: where the library leaves what it wraps to the loop (legacy httpx's bound stream does), the
    # watcher stands in the transport's stream's place.
    assert len(instrumented) == len(uninstrumented), (instrumented, uninstrumented)


def _left_to_the_loop(library_name: str, kind: str) -> list[str]:
    """One async call of ``kind``: the async generators the event loop had to finalise itself (each in a task of its
    own) because nothing closed them."""
    client = _client(library_name, True, [])
    finalised: list[str] = []

    async def main() -> None:
        firstiter, finalizer = sys.get_asyncgen_hooks()

        def counted(agen: Any) -> None:
            finalised.append(agen.__qualname__)
            finalizer(agen)

        sys.set_asyncgen_hooks(firstiter, counted)
        await _acall(client, kind, lambda: None)
        for turn in range(20):  # each finalising task can drop the next generator: a few turns of the loop
            if turn == 10:
                gc.collect()
            await asyncio.sleep(0)

    asyncio.run(main())
    return sorted(finalised)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("library", LIBRARIES)
def test_an_async_call_leaves_the_event_loop_no_generator_more_to_finalise(request, library, kind):
    # The body watcher sits between the library's bound stream and the transport's: it must close what it wraps as
    # the bound stream does, or every async stream costs its event loop one more finalising task.
    uninstrumented = _left_to_the_loop(library, kind)
    telemetry = request.getfixturevalue("aigw_telemetry")
    instrumented = _left_to_the_loop(library, kind)
    assert len(telemetry.genai_spans()) == 1
    # The same number: where the library leaves what it wraps to the loop (legacy httpx's bound stream does), the
    # watcher stands in the transport's stream's place.
    assert len(instrumented) == len(uninstrumented), (instrumented, uninstrumented)
