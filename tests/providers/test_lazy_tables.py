"""Endpoint tables compile on the endpoint's first call, once, and give what a compiled table gives.

Each test routes the SDK's real calls to a fresh copy of a provider endpoint (the module's own may have been
compiled by earlier tests), and counts compilations: a request table through ``compile_request``, a response reader
through ``Reader`` built for real (the lazy placeholder an endpoint starts with is not a compilation).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aigw_trace import _attributes as A
from aigw_trace._providers import _spec
from aigw_trace._providers.anthropic import _messages, _methods
from aigw_trace._providers.openai import _chat, _routes
from aigw_trace._providers.openai import _completions as _openai_completions
from tests.canned import completion, message
from tests.conftest import Reply
from tests.test_semconv import anthropic_client

MESSAGES = [{"role": "user", "content": "hi"}]


def copy_of(endpoint: _spec.Endpoint) -> _spec.Endpoint:
    """The same declaration, not compiled yet."""
    return _spec.Endpoint(
        operation=endpoint.operation,
        attributes=endpoint.attributes,
        request=endpoint.request,
        model=endpoint.model,
        response=endpoint.response,
        usage=endpoint.usage,
        finish_reasons=endpoint.finish_reasons,
        error=endpoint.error,
        stream=endpoint.stream,
        content=endpoint.content,
        stream_usage=endpoint.stream_usage,
        span_name=endpoint.span_name,
    )


class Compilations:
    """What was compiled, in order: ``("request", items)`` and ``("reader", fields)``."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[Any, ...]]] = []
        self.pause: threading.Barrier | None = None
        """When set, every compilation waits here: two threads can be made to compile at the same time."""

    def _wait(self) -> None:
        if self.pause is not None:
            self.pause.wait()

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log]


@pytest.fixture
def compiled(monkeypatch: pytest.MonkeyPatch) -> Compilations:
    seen = Compilations()
    compile_request, reader = _spec.compile_request, _spec.Reader

    def counting_compile_request(items: Any) -> Any:
        seen.log.append(("request", tuple(items)))
        seen._wait()
        return compile_request(items)

    class CountingReader(reader):  # type: ignore[misc,valid-type]
        __slots__ = ()

        def __init__(self, fields: Any, depth: int = 0, *, lazy: bool = False) -> None:
            if depth == 0 and not lazy:
                seen.log.append(("reader", tuple(fields)))
                seen._wait()
            super().__init__(fields, depth, lazy=lazy)

    monkeypatch.setattr(_spec, "compile_request", counting_compile_request)
    monkeypatch.setattr(_spec, "Reader", CountingReader)
    return seen


@pytest.fixture
def fresh_chat(monkeypatch: pytest.MonkeyPatch, compiled: Compilations) -> _spec.Endpoint:
    endpoint = copy_of(_chat.CHAT)
    monkeypatch.setitem(_routes.ROUTES, ("post", "/chat/completions"), endpoint)
    return endpoint


def chat(client: Any) -> Any:
    return client.chat.completions.create(model="gpt-4o", messages=MESSAGES, temperature=0.2, seed=7,
                                          response_format={"type": "json_object"})  # fmt: skip


def test_an_endpoint_compiles_on_its_first_call_and_never_again(aigw_telemetry, fake_api, openai_client, compiled,
                                                                 fresh_chat):  # fmt: skip
    assert compiled.log == []  # defined and instrumented: nothing compiled yet
    fake_api.reply(Reply(json=completion()))
    client = openai_client()

    chat(client)
    # The chat endpoint's keys and types are the same in both conventions: one table, one reader, compiled once.
    assert compiled.kinds() == ["request", "reader"]
    for _ in range(3):
        chat(client)
    assert compiled.kinds() == ["request", "reader"]

    first, *later = aigw_telemetry.spans()
    assert len(later) == 3
    # The call that compiled records exactly what the calls on the compiled tables record.
    assert all(dict(span.attributes) == dict(first.attributes) for span in later)
    assert first.attributes[A.REQUEST_TEMPERATURE] == 0.2
    assert first.attributes[A.OUTPUT_TYPE] == "json"  # a nested request field
    assert first.attributes[A.USAGE_INPUT_TOKENS] == completion()["usage"]["prompt_tokens"]  # a nested response one


def test_an_endpoint_not_called_is_not_compiled(aigw_telemetry, fake_api, openai_client, compiled, fresh_chat,
                                                monkeypatch):  # fmt: skip
    embeddings = copy_of(_openai_completions.EMBEDDINGS)
    monkeypatch.setitem(_routes.ROUTES, ("post", "/embeddings"), embeddings)
    vectors = {"object": "list", "model": "text-embedding-3-small", "usage": {"prompt_tokens": 2, "total_tokens": 2},
               "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}]}  # fmt: skip
    fake_api.reply(Reply(json=completion()), Reply(json=vectors))

    chat(openai_client())

    (_, request_items), (_, reader_fields) = compiled.log
    assert request_items == tuple(fresh_chat.request)
    assert reader_fields[: len(fresh_chat.response)] == tuple(fresh_chat.response)
    assert isinstance(embeddings.request_tables[0], _spec._PendingRequestTable)  # still as defined

    openai_client().embeddings.create(model="text-embedding-3-small", input="hi")
    assert compiled.kinds() == ["request", "reader", "request", "reader"]  # its own first call compiles it
    assert compiled.log[2] == ("request", tuple(embeddings.request))


def test_a_stream_compiles_its_endpoint_once_too(aigw_telemetry, fake_api, openai_client, compiled, fresh_chat):
    from tests.providers.test_openai_chat import stream_chunks

    fake_api.reply(Reply(chunks=stream_chunks()))
    client = openai_client()
    for _ in range(2):
        for _chunk in client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
            pass
    assert compiled.kinds() == ["request", "reader"]  # the stream's summary is read by the same reader
    first, second = ({k: v for k, v in span.attributes.items() if k != A.RESPONSE_TIME_TO_FIRST_CHUNK}
                     for span in aigw_telemetry.spans())  # fmt: skip
    assert first == second
    assert first[A.USAGE_OUTPUT_TOKENS] > 0


@pytest.mark.parametrize("column", ["released", "latest"])
def test_only_the_conventions_column_in_use_is_compiled(aigw_telemetry, fake_api, compiled, monkeypatch, column):
    """Anthropic's table differs between the conventions (``top_k``'s type, the cache-write key): only the column
    the telemetry chose compiles."""
    if column == "latest":
        monkeypatch.setenv(A.SEMCONV_OPT_IN_ENV, A.SEMCONV_OPT_IN_GEN_AI)
        aigw_telemetry.instrument()
    endpoint = copy_of(_messages.MESSAGES)
    monkeypatch.setitem(_methods._BY_SPAN_NAME, "anthropic.messages.create", endpoint)
    monkeypatch.setattr(_methods, "MESSAGES", endpoint)
    fake_api.reply(Reply(json=message()))
    client = anthropic_client(fake_api)

    for _ in range(2):
        client.messages.create(model="claude-test-5", max_tokens=64, messages=MESSAGES, extra_body={"top_k": 5})

    assert compiled.kinds() == ["request", "reader"]
    index = 0 if column == "released" else 1
    (_, request_items), (_, reader_fields) = compiled.log
    top_k = next(f for f in request_items if f.path == ("top_k",))
    assert top_k.convert is (_spec.as_float if column == "released" else _spec.as_int)
    cache_write = A.USAGE_CACHE_CREATION_INPUT_TOKENS if column == "released" else A.LATEST[
        A.USAGE_CACHE_CREATION_INPUT_TOKENS]  # fmt: skip
    assert cache_write in {f.attribute for f in reader_fields}
    spans = aigw_telemetry.spans()
    assert len(spans) == 2
    assert dict(spans[0].attributes) == dict(spans[1].attributes)
    assert type(spans[0].attributes[A.REQUEST_TOP_K]) is (float, int)[index]


def test_two_threads_making_the_first_call_at_once_both_record_everything(aigw_telemetry, fake_api, openai_client,
                                                                          compiled, fresh_chat):  # fmt: skip
    """Both threads find the endpoint uncompiled and compile it at the same time (each waits inside the compilation
    for the other): both calls record every attribute, and the endpoint then stays compiled."""
    fake_api.reply(Reply(json=completion()))
    client = openai_client()
    compiled.pause = threading.Barrier(2, timeout=10)
    errors: list[Exception] = []

    def first_call() -> None:
        try:
            chat(client)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=first_call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert compiled.kinds() == ["request", "request", "reader", "reader"]  # each compiled: neither waited in vain

    compiled.pause = None
    chat(client)
    assert compiled.kinds() == ["request", "request", "reader", "reader"]  # whichever stored last serves from now on
    spans = aigw_telemetry.spans()
    assert len(spans) == 3
    assert dict(spans[0].attributes) == dict(spans[1].attributes) == dict(spans[2].attributes)
    assert spans[0].attributes[A.OUTPUT_TYPE] == "json"
    assert spans[0].attributes[A.RESPONSE_ID] == completion()["id"]
