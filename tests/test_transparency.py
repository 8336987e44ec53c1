"""Transparency as a tested property: whatever the SDK hands back behaves under aigw-trace as it does without it.

One generated matrix: every endpoint family of both SDKs by sync/async by every way of calling (plain, ``stream=True``,
``with_raw_response``, ``with_streaming_response`` read first through each of its readers, the ``.stream()`` helpers)
by the HTTP library carrying it (openai also over a legacy ``httpx`` client), read to the end or closed early. Each
case runs uninstrumented, then instrumented; each run records an *observation*: a flat map from a path (phase, object,
accessor) to what the accessor gave, a normalised value or the type of the exception it raised. Observations are taken
right after the call returns, after reading to the end, and after closing (and closing again), of the returned object,
the HTTP response under it and what ``parse()`` gives: the type, ``isinstance`` against every public class of the SDK,
its types and helpers and the HTTP library, every public non-method attribute, and the readers. The one value that
varies from run to run, ``elapsed``, is compared as "a non-negative duration" (or the exception it raised). The
instrumented observation must equal the uninstrumented one, and the call must have made exactly one span, ended.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest

import aigw_trace
from aigw_trace import _attributes as A
from tests.canned import sse
from tests.providers import test_anthropic as anthropic_bodies
from tests.providers import test_openai_chat as chat_bodies
from tests.providers import test_openai_completions as completion_bodies
from tests.providers import test_openai_embeddings as embedding_bodies
from tests.providers import test_openai_responses as responses_bodies

# --- the matrix, from data ---


@dataclass(frozen=True)
class Family:
    """One endpoint family: where it lives on the client, what it sends, what the API answers."""

    sdk: str
    path: str
    method: str
    kwargs: dict[str, Any]
    body: dict[str, Any]
    frames: list[bytes] | None = None
    """The streamed answer; ``None``: the endpoint does not stream."""
    stream_kwargs: dict[str, Any] | None = None
    helper: bool = False
    """Has ``.stream()`` and ``.parse()`` helpers taking ``kwargs``."""


FAMILIES = {
    "openai-chat": Family(
        "openai", "chat.completions", "create", {"model": "gpt-4o", "messages": chat_bodies.MESSAGES},
        chat_bodies.completion(), chat_bodies.stream_chunks(),
        {"stream": True, "stream_options": {"include_usage": True}}, helper=True,
    ),
    "openai-embeddings": Family(
        "openai", "embeddings", "create", {"model": embedding_bodies.MODEL, "input": "ping"},
        embedding_bodies.embedding_body(embedding_bodies.packed([0.5, -1.0, 2.0])),
    ),
    "openai-responses": Family(
        "openai", "responses", "create", {"model": responses_bodies.MODEL, "input": "ping"},
        responses_bodies.response_body(), responses_bodies.frames(responses_bodies.events()), {"stream": True},
        helper=True,
    ),
    "openai-completions": Family(
        "openai", "completions", "create", {"model": completion_bodies.MODEL, "prompt": "hello"},
        completion_bodies.completion(), completion_bodies.chunks(["a", "b"]),
        {"stream": True, "stream_options": {"include_usage": True}},
    ),
    "anthropic-messages": Family(
        "anthropic", "messages", "create",
        {"model": anthropic_bodies.MODEL, "max_tokens": 64, "messages": anthropic_bodies.MESSAGES},
        anthropic_bodies.message(), sse(anthropic_bodies.message_events(), done=False, named=True),
        {"stream": True}, helper=True,
    ),
    "anthropic-beta-messages": Family(
        "anthropic", "beta.messages", "create",
        {"model": anthropic_bodies.MODEL, "max_tokens": 64, "messages": anthropic_bodies.MESSAGES},
        anthropic_bodies.message(), sse(anthropic_bodies.message_events(), done=False, named=True),
        {"stream": True}, helper=True,
    ),
    "anthropic-count-tokens": Family(
        "anthropic", "messages", "count_tokens",
        {"model": anthropic_bodies.MODEL, "messages": anthropic_bodies.MESSAGES},
        {"input_tokens": 42},
    ),
}  # fmt: skip

LIBRARIES = {"openai": ("httpx2", "httpx"), "anthropic": ("httpx2",)}
"""The HTTP library under the SDK: openai 3.x's own ``httpx2``, or a legacy ``httpx`` client the caller hands it."""

READERS = ("parse", "read", "text", "json", "iter_bytes", "iter_text", "iter_lines")
"""How a ``with_streaming_response`` body gets read first (every reader is also called on the closed response)."""
STREAM_READERS = ("parse", "read", "iter_bytes", "iter_lines")
"""For an SSE body: not JSON, and ``text``/``iter_text`` read through ``read``/``iter_bytes`` as for any body."""


@dataclass(frozen=True)
class Case:
    family: str
    library: str
    is_async: bool
    kind: str
    """``plain``, ``error``, ``raw``, ``streaming_response`` (``:reader``), each of them ``+stream``; ``helper``
    (``.stream()``) or ``parse_helper`` (``.parse()``)."""
    early: bool = False
    """Closed without reading the stream (streaming kinds only)."""

    @property
    def id(self) -> str:
        mode = "async" if self.is_async else "sync"
        return "-".join([self.family, self.library, mode, self.kind] + (["early"] if self.early else []))

    @property
    def stream(self) -> bool:
        return self.kind.endswith("+stream") or self.kind == "helper"


def _kinds(family: Family) -> Iterator[str]:
    streams = ("", "+stream") if family.frames is not None else ("",)
    for suffix in streams:
        yield "plain" + suffix
        yield "error" + suffix  # the API answers 400: what the SDK raises
        yield "raw" + suffix
        for reader in STREAM_READERS if suffix else READERS:
            yield f"streaming_response:{reader}" + suffix
    if family.helper:
        yield "helper"
        yield "parse_helper"


def _cases() -> Iterator[Case]:
    for name, family in FAMILIES.items():
        for library in LIBRARIES[family.sdk]:
            for is_async in (False, True):
                for kind in _kinds(family):
                    yield Case(name, library, is_async, kind)
                    # Closing a stream unread, through the stream itself (the raw/streaming readers close the body).
                    if kind in ("plain+stream", "helper", "streaming_response:parse+stream"):
                        yield Case(name, library, is_async, kind, early=True)


CASES = list(_cases())

# --- the fake API ---

ERROR_BODY = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad model", "code": "bad_model"}}
"""A 400 body both SDKs read their error fields from."""
REPLY_HEADERS = {"x-request-id": "req_123", "request-id": "req_123", "x-gateway": "loopback", "set-cookie": "a=b"}
PROPAGATION = {"traceparent", "tracestate", "baggage"}
"""What aigw-trace adds to the request going out, by design: not part of what the caller reads back."""


def _client(case: Case) -> Any:
    family = FAMILIES[case.family]
    library = importlib.import_module(case.library)

    class Body(library.SyncByteStream, library.AsyncByteStream):  # type: ignore[misc, name-defined]
        """A body that stays open until read, like a network one."""

        def __init__(self, chunks: list[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            yield from self._chunks

        async def __aiter__(self) -> Any:
            for chunk in self._chunks:
                yield chunk

    def respond(request: Any) -> Any:
        if case.kind.startswith("error"):
            headers = {"content-type": "application/json", **REPLY_HEADERS}
            return library.Response(400, headers=headers, stream=Body([json.dumps(ERROR_BODY).encode()]))
        if json.loads(request.content).get("stream"):
            assert family.frames is not None
            headers = {"content-type": "text/event-stream", **REPLY_HEADERS}
            return library.Response(200, headers=headers, stream=Body(family.frames))
        headers = {"content-type": "application/json", **REPLY_HEADERS}
        return library.Response(200, headers=headers, stream=Body([json.dumps(family.body).encode()]))

    def handler(request: Any) -> Any:
        request.read()
        return respond(request)

    async def async_handler(request: Any) -> Any:
        await request.aread()
        return respond(request)

    sdk = importlib.import_module(family.sdk)
    kwargs: dict[str, Any] = {"api_key": "sk-test-secret", "base_url": "http://gateway.test/v1", "max_retries": 0}
    if family.sdk == "anthropic":
        kwargs["base_url"] = "http://gateway.test"
    if case.is_async:
        http = library.AsyncClient(transport=library.MockTransport(async_handler))
        return (sdk.AsyncAnthropic if family.sdk == "anthropic" else sdk.AsyncOpenAI)(http_client=http, **kwargs)
    http = library.Client(transport=library.MockTransport(handler))
    return (sdk.Anthropic if family.sdk == "anthropic" else sdk.OpenAI)(http_client=http, **kwargs)


# --- observations ---


def _public_classes(module_names: tuple[str, ...]) -> list[tuple[str, type]]:
    classes = []
    for name in module_names:
        module = importlib.import_module(name)
        for attr, value in list(vars(module).items()):
            if isinstance(value, type) and not attr.startswith("_") and _checkable(value):
                classes.append((f"{name}.{attr}", value))
    return classes


def _checkable(cls: type) -> bool:
    """Not a ``TypedDict`` or another class that refuses ``isinstance``."""
    try:
        isinstance(None, cls)
    except TypeError:
        return False
    return True


@functools.cache
def _classes(sdk: str, library: str) -> list[tuple[str, type]]:
    """The classes a caller would check against: the SDK's public ones, its types and helpers', the HTTP library's."""
    modules = {
        "openai": ("openai", "openai.types", "openai.types.chat", "openai.types.responses", "openai.lib.streaming",
                   "openai.lib.streaming.chat", "openai.lib.streaming.responses"),
        "anthropic": ("anthropic", "anthropic.types", "anthropic.types.beta", "anthropic.lib.streaming"),
    }[sdk]  # fmt: skip
    return _public_classes((*modules, library))


CLASS_LEVEL = {"model_fields", "model_computed_fields"}
"""pydantic's per-class tables, deprecated on instances (the type is compared instead)."""


class Observer:
    def __init__(self, case: Case) -> None:
        self.case = case
        self.classes = _classes(FAMILIES[case.family].sdk, case.library)
        self.seen: dict[str, Any] = {}

    def put(self, path: str, value: Any) -> None:
        self.seen[path] = value

    def value(self, value: Any, depth: int = 0) -> Any:
        """A comparable form of ``value``: plain data as is, the rest by type (and its own contents where public)."""
        if value is None or isinstance(value, (bool, int, float, str, bytes)):
            return value
        if isinstance(value, datetime.timedelta):
            return ("timedelta", value.total_seconds() >= 0)  # the duration itself varies from run to run
        if isinstance(value, pydantic.BaseModel):
            return (_type_name(value), value.model_dump(mode="json", warnings=False))
        if isinstance(value, Mapping) or hasattr(value, "multi_items"):
            items = value.multi_items() if hasattr(value, "multi_items") else value.items()
            return sorted((str(k), self.value(v, depth + 1)) for k, v in items if str(k).lower() not in PROPAGATION)
        if isinstance(value, (list, tuple)):
            return [self.value(v, depth + 1) for v in value]
        if type(value).__name__ == "URL":
            return ("URL", str(value))
        if type(value).__name__ == "Request" and depth == 0:
            return ("Request", value.method, str(value.url), self.value(value.headers, 1), value.content)
        return ("object", _type_name(value))

    def kind_of(self, prefix: str, obj: Any) -> None:
        """The type as ``type(obj)``/``isinstance`` checks see it."""
        cls = type(obj)
        self.put(f"{prefix}:type", _type_name(obj))  # ':' so that an attribute named ``type`` is kept apart
        exported = getattr(importlib.import_module(cls.__module__), cls.__qualname__, None)
        self.put(f"{prefix}:type_is_the_sdks", exported is cls)
        self.put(f"{prefix}:isinstance", _isinstance(self.classes, obj))

    def attributes(self, prefix: str, obj: Any) -> None:
        """Every public attribute that is not a method: its value, or the exception reading it raised."""
        self.kind_of(prefix, obj)
        names = [n for n in dir(obj) if not n.startswith("_") and n not in CLASS_LEVEL]
        self.put(f"{prefix}:public_names", names)
        for name in names:
            try:
                value = getattr(obj, name)
            except Exception as exc:
                self.put(f"{prefix}.{name}", ("raises", type(exc).__name__))
                continue
            if callable(value) and not isinstance(value, type):
                continue
            if name == "stream" and prefix.endswith("http"):
                # The HTTP library's byte stream: what its own checks ask of it, and (separately) its exact type.
                library = importlib.import_module(self.case.library)
                bases = (library.SyncByteStream, library.AsyncByteStream)
                self.put(f"{prefix}.stream", [isinstance(value, base) for base in bases])
                self.put(f"{prefix}.stream:type", _type_name(value))
                continue
            if inspect.isasyncgen(value) or inspect.isgenerator(value) or hasattr(value, "__next__"):
                self.put(f"{prefix}.{name}", ("iterator", _type_name(value)))
                continue
            self.put(f"{prefix}.{name}", self.value(value))
        if hasattr(obj, "_request_id"):  # documented on openai's models
            self.put(f"{prefix}._request_id", getattr(obj, "_request_id", None))

    async def call(self, path: str, function: Callable[[], Any]) -> Any:
        """Call ``function`` (awaiting and draining what it gives): record its value or the exception it raised."""
        try:
            result = function()
            if inspect.isawaitable(result):
                result = await result
            if inspect.isasyncgen(result):
                result = [item async for item in result]
            elif inspect.isgenerator(result):
                result = list(result)
        except Exception as exc:
            self.put(path, ("raises", type(exc).__name__))
            return None
        self.put(path, self.value(result))
        return result

    async def http_methods(self, prefix: str, http: Any) -> None:
        """What the HTTP response's readers give once its body has been read or closed."""
        a = "a" if self.case.is_async else ""
        for name in ("read", "iter_bytes", "iter_text", "iter_lines", "iter_raw"):
            await self.call(f"{prefix}.{a}{name}()", getattr(http, a + name))
        await self.call(f"{prefix}.json()", http.json)
        self.attributes(prefix, http)


_ISINSTANCE: dict[tuple[int, type], list[str]] = {}


def _isinstance(classes: list[tuple[str, type]], obj: Any) -> list[str]:
    """The public classes ``obj`` is an instance of (by its type, as none of these classes customise the check)."""
    key = (id(classes), type(obj))
    if key not in _ISINSTANCE:
        _ISINSTANCE[key] = [name for name, cls in classes if isinstance(obj, cls)]
    return _ISINSTANCE[key]


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__}.{cls.__qualname__}"


async def _drain(items: Any) -> list[Any]:
    if hasattr(items, "__aiter__"):
        return [item async for item in items]
    return list(items)


async def _close(obj: Any) -> None:
    closing = getattr(obj, "close", None) or obj.aclose
    result = closing()
    if inspect.isawaitable(result):
        await result


# --- running one case ---


async def _run(case: Case, obs: Observer) -> None:
    family = FAMILIES[case.family]
    client = _client(case)
    resource = functools.reduce(getattr, family.path.split("."), client)
    kwargs = dict(family.kwargs)
    if case.stream and case.kind != "helper":
        kwargs.update(family.stream_kwargs or {})
    kind, _, reader = case.kind.partition("+")[0].partition(":")

    if kind == "helper":
        manager = resource.stream(**kwargs)
        obs.kind_of("manager", manager)
        stream = await manager.__aenter__() if case.is_async else manager.__enter__()
        http = getattr(stream, "response", None)  # openai's helpers keep it private
        await _observe_stream(obs, stream, http, case.early)
        if case.is_async:
            await manager.__aexit__(None, None, None)
        else:
            manager.__exit__(None, None, None)
        await _after_close(obs, stream, http)
        return

    if kind == "error":
        try:
            result = getattr(resource, family.method)(**kwargs)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            obs.attributes("error", exc)
            await obs.http_methods("error.http", exc.response)
        else:
            obs.put("error", "not raised")
        return

    if kind in ("plain", "parse_helper"):
        result = getattr(resource, "parse" if kind == "parse_helper" else family.method)(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        if not case.stream:
            obs.attributes("returned", result)
            return
        await _observe_stream(obs, result, result.response, case.early)
        await _close(result)
        await _after_close(obs, result, result.response)
        return

    if kind == "raw":
        raw = getattr(resource.with_raw_response, family.method)(**kwargs)
        if inspect.isawaitable(raw):
            raw = await raw
        obs.attributes("raw", raw)
        obs.attributes("raw.http", raw.http_response)
        parsed = await obs.call("raw.parse()", raw.parse)
        if case.stream:
            await _observe_stream(obs, parsed, raw.http_response, case.early)
            await _close(parsed)
        else:
            obs.attributes("parsed", parsed)
        await _after_close(obs, raw, raw.http_response)
        return

    # with_streaming_response: the body stays unread until the caller reads it, through one of the readers.
    manager = getattr(resource.with_streaming_response, family.method)(**kwargs)
    response = await manager.__aenter__() if case.is_async else manager.__enter__()
    obs.attributes("response", response)
    obs.attributes("response.http", response.http_response)
    if reader == "parse":
        parsed = await obs.call("response.parse()", response.parse)
        if case.stream:
            await _observe_stream(obs, parsed, response.http_response, case.early)
        else:
            obs.attributes("parsed", parsed)
            await obs.call("response.parse() again", response.parse)
    else:
        await obs.call(f"response.{reader}()", getattr(response, reader))
    obs.attributes("response.read", response)
    obs.attributes("response.read.http", response.http_response)
    if case.is_async:
        await manager.__aexit__(None, None, None)
    else:
        manager.__exit__(None, None, None)
    await _after_close(obs, response, response.http_response)


async def _observe_stream(obs: Observer, stream: Any, http: Any, early: bool) -> None:
    """A stream right after the call, and (unless ``early``) read to the end, with every no-argument result getter."""
    obs.attributes("stream", stream)
    if http is not None:
        obs.attributes("stream.http", http)
    if early:
        return
    await obs.call("stream.items", lambda: _drain(stream))
    obs.attributes("stream.read", stream)
    if http is not None:
        obs.attributes("stream.read.http", http)
    for name in sorted(n for n in dir(stream) if n.startswith(("get_final_", "until_done"))):
        await obs.call(f"stream.{name}()", getattr(stream, name))


async def _after_close(obs: Observer, obj: Any, http: Any) -> None:
    obs.attributes("closed", obj)
    if http is not None:
        await obs.http_methods("closed.http", http)
    await obs.call("closed.close() again", lambda: _close(obj) if hasattr(obj, "close") else None)
    if http is not None:
        obs.put("closed.again.http.is_closed", http.is_closed)


LOOP = asyncio.new_event_loop()


def observe(case: Case) -> dict[str, Any]:
    obs = Observer(case)
    run = _run(case, obs)
    if case.is_async:
        LOOP.run_until_complete(run)
    else:  # nothing in a sync call suspends: one step runs it to the end, without an event loop
        try:
            run.send(None)
        except StopIteration:
            return obs.seen
        run.close()
        raise AssertionError("a sync case suspended")
    return obs.seen


def _differences(uninstrumented: dict[str, Any], instrumented: dict[str, Any]) -> dict[str, Any]:
    """Path → (uninstrumented, instrumented) where they differ."""
    paths = sorted(set(uninstrumented) | set(instrumented))
    return {
        path: (uninstrumented.get(path, "<not observed>"), instrumented.get(path, "<not observed>"))
        for path in paths
        if uninstrumented.get(path, "<not observed>") != instrumented.get(path, "<not observed>")
    }


EXPECTED_ACCESSORS = {
    "type", "isinstance", "elapsed", "headers", "status_code", "request", "is_closed", "url",
    "http_request", "request_id", "content", "text", "stream", "parse()", "read()", "iter_bytes()", "iter_text()",
    "iter_lines()", "json()",
}  # fmt: skip
"""Accessors every group observes somewhere."""


def _accessor(path: str) -> str:
    name = re.split(r"[.:]", path)[-1]
    return name[1:] if name.startswith(("aread(", "aiter_")) else name  # the async readers


GROUPS = sorted({(c.family, c.library, c.is_async) for c in CASES})
"""One test per family, HTTP library and mode runs each of its cases (one set-up of the telemetry, not hundreds)."""


@pytest.mark.parametrize(
    "group",
    GROUPS,
    ids=[f"{family}-{library}-{'async' if is_async else 'sync'}" for family, library, is_async in GROUPS],
)
def test_what_the_sdk_returns_behaves_as_uninstrumented(request, group):
    cases = [case for case in CASES if (case.family, case.library, case.is_async) == group]
    uninstrumented = {case.id: observe(case) for case in cases}
    telemetry = request.getfixturevalue("aigw_telemetry")

    problems: dict[str, Any] = {}
    for case in cases:
        telemetry.clear()
        differences = _differences(uninstrumented[case.id], observe(case))
        spans = telemetry.genai_spans()  # finished spans only: each one has ended
        if len(spans) != 1:
            differences["spans"] = [span.name for span in spans]
        if differences:
            problems[case.id] = differences
    assert problems == {}
    # The observer did look: what the matrix is about was observed in this group.
    seen = {_accessor(path) for observation in uninstrumented.values() for path in observation}
    assert seen >= EXPECTED_ACCESSORS, EXPECTED_ACCESSORS - seen
    assert len(cases) >= 9


# --- a response that did not come through an HTTP client's send(): the one place the body wrapper shows ---


class _BodyOnly:
    """A byte stream with an attribute of its own, answering as a network body would."""

    def __init__(self, chunks: list[bytes], closed: list[bool]) -> None:
        self._chunks = chunks
        self._closed = closed
        self.marker = "the transport's own"

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> Any:
        for chunk in self._chunks:
            yield chunk

    def close(self) -> None:
        self._closed.append(True)

    async def aclose(self) -> None:
        self.close()


def _direct_client(is_async: bool, closed: list[bool]) -> Any:
    """An openai client over an ``httpx2`` client whose ``send`` answers itself, without a transport (as some test
    doubles do): its responses never get the library's own bound stream, so the watcher takes ``response.stream``."""
    import httpx2
    import openai

    body_type = type("Body", (_BodyOnly, httpx2.SyncByteStream, httpx2.AsyncByteStream), {})
    frames = chat_bodies.stream_chunks()

    def answer(request: Any) -> Any:
        headers = {"content-type": "text/event-stream"}
        return httpx2.Response(200, headers=headers, stream=body_type(frames, closed), request=request)

    class Direct(httpx2.Client):
        def send(self, request: Any, **kwargs: Any) -> Any:
            return answer(request)

    class AsyncDirect(httpx2.AsyncClient):
        async def send(self, request: Any, **kwargs: Any) -> Any:
            return answer(request)

    http = AsyncDirect() if is_async else Direct()
    cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(api_key="sk-test", base_url="http://gateway.test/v1", max_retries=0, http_client=http)


async def _read_directly(is_async: bool, early: bool) -> tuple[Any, list[bytes], list[bool]]:
    closed: list[bool] = []
    client = _direct_client(is_async, closed)
    kwargs = {"model": "gpt-4o", "messages": chat_bodies.MESSAGES, "stream": True}
    manager = client.chat.completions.with_streaming_response.create(**kwargs)
    response = await manager.__aenter__() if is_async else manager.__enter__()
    http = response.http_response
    stream = http.stream
    seen = [isinstance(stream, base) for base in _byte_stream_bases()], stream.marker
    chunks: list[bytes] = []
    if not early:
        chunks = [chunk async for chunk in http.aiter_bytes()] if is_async else list(http.iter_bytes())
    if is_async:
        await manager.__aexit__(None, None, None)
    else:
        manager.__exit__(None, None, None)
    return (seen, type(stream).__module__, http.is_closed), chunks, closed


def _byte_stream_bases() -> tuple[type, ...]:
    import httpx2

    return httpx2.SyncByteStream, httpx2.AsyncByteStream


@pytest.mark.parametrize("early", [False, True], ids=["read", "closed-unread"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_body_wrapper_where_one_shows_is_a_byte_stream_that_forwards_everything(aigw_telemetry, is_async, early):
    """What a caller can rely on when ``http_response.stream`` is aigw-trace's wrapper (documented in docs/index.md,
    Guarantees): an instance of the library's byte-stream classes as before, every attribute of the
    original readable through it, the same bytes, and closing it closes the original, once."""
    aigw_trace.uninstrument()
    (plain_seen, plain_module, plain_closed), plain_chunks, plain_close_calls = LOOP.run_until_complete(
        _read_directly(is_async, early)
    )
    aigw_telemetry.instrument()
    (seen, module, is_closed), chunks, close_calls = LOOP.run_until_complete(_read_directly(is_async, early))

    assert seen == plain_seen == ([True, True], "the transport's own")
    assert chunks == plain_chunks
    assert (
        (bool(plain_chunks), is_closed, close_calls)
        == (not early, plain_closed, plain_close_calls)
        == (
            not early,
            True,
            [True],
        )
    )
    # The difference itself (documented): the object is ours. Only here; through a client it is the library's.
    assert (plain_module, module) == ("tests.test_transparency", "aigw_trace._http_body")
    (span,) = aigw_telemetry.genai_spans()
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == ("closed" if early else "completed")
