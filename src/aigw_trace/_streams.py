"""Streams that end their call exactly once, whatever the caller does with them.

Two small pieces cover every exit path without proxying the SDK's stream object:

* :func:`traced_stream_class` makes, once per SDK stream class, a subclass whose ``__stream__`` hands each parsed
  item to the call. The caller still holds a genuine ``openai.Stream``/``anthropic.Stream`` (``isinstance`` and
  ``type`` checks keep working) and no context is attached across yields.
* :func:`watch_body` wraps the HTTP response's byte stream, so the call also ends when the SDK closes the
  response directly (``with`` exit, ``close()``, the ``.stream()`` helpers), when a raw streaming response is
  closed without ever being parsed, and when the response is garbage-collected unread.

The first of them to see the end wins; :meth:`aigw_trace._call.Call.end` ignores the rest.
"""

from __future__ import annotations

import json
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any, get_origin

import httpx2

from ._call import CALL_KEY, Call, current_call
from ._safety import report

__all__ = ["CALL_KEY", "current_call", "traced_stream_class", "watch_body"]


# --- the HTTP body watcher ---


def _body_closed(call: Call, buffer: list[bytes] | None, exhausted: bool) -> None:
    if call.ended or call.reading:
        return
    if buffer is not None and exhausted:
        try:
            parsed = json.loads(b"".join(buffer))
        except ValueError:
            parsed = None
        call.end(response=parsed)
        return
    call.end(outcome="completed" if exhausted else "closed")


class _SyncBody(httpx2.SyncByteStream):
    __slots__ = ("_buffer", "_exhausted", "_inner", "aigw_call")

    def __init__(self, inner: httpx2.SyncByteStream, call: Call) -> None:
        self._inner = inner
        self.aigw_call = call
        self._buffer: list[bytes] | None = [] if call.wants_body else None
        self._exhausted = False

    def __iter__(self) -> Iterator[bytes]:
        buffer = self._buffer
        for chunk in self._inner:
            if buffer is not None:
                buffer.append(chunk)
            yield chunk
        self._exhausted = True

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            _body_closed(self.aigw_call, self._buffer, self._exhausted)

    def __del__(self) -> None:
        try:  # noqa: SIM105 - contextlib may already be torn down at interpreter shutdown
            self.aigw_call.end(outcome="abandoned")
        except Exception:  # interpreter shutdown: nothing sensible is left to do
            pass


class _AsyncBody(httpx2.AsyncByteStream):
    __slots__ = ("_buffer", "_exhausted", "_inner", "aigw_call")

    def __init__(self, inner: httpx2.AsyncByteStream, call: Call) -> None:
        self._inner = inner
        self.aigw_call = call
        self._buffer: list[bytes] | None = [] if call.wants_body else None
        self._exhausted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        buffer = self._buffer
        async for chunk in self._inner:
            if buffer is not None:
                buffer.append(chunk)
            yield chunk
        self._exhausted = True

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            _body_closed(self.aigw_call, self._buffer, self._exhausted)

    def __del__(self) -> None:
        try:  # noqa: SIM105 - contextlib may already be torn down at interpreter shutdown
            self.aigw_call.end(outcome="abandoned")
        except Exception:
            pass


def watch_body(response: Any, call: Call) -> bool:
    """Make closing (or dropping) ``response`` end ``call``. Only for ``httpx2`` responses: a legacy ``httpx``
    client's response keeps its own stream type, and its call ends through the stream observer or its result."""
    if not isinstance(response, httpx2.Response):
        return False
    stream = response.stream
    if isinstance(stream, (_SyncBody, _AsyncBody)):
        return True
    if isinstance(stream, httpx2.SyncByteStream):
        response.stream = _SyncBody(stream, call)
        return True
    response.stream = _AsyncBody(stream, call)
    return True


def call_of(response: Any) -> Call | None:
    """The call a raw response belongs to, if :func:`watch_body` saw it."""
    call = getattr(getattr(response, "stream", None), "aigw_call", None)
    return call if isinstance(call, Call) else None


# --- the stream observer ---


def _attach(stream: Any) -> Call | None:
    response = stream.response
    call = call_of(response)
    if call is None:
        call = current_call()
        if call is None or call.ended:
            return None
        watch_body(response, call)
    return call


def _chunk_failed(exc: Exception) -> None:
    report("stream chunk", exc)


def _observe_sync(base_stream: Any) -> Any:
    def __stream__(self: Any) -> Iterator[Any]:
        inner = base_stream(self)
        call: Call | None = self._aigw_call
        if call is None:
            yield from inner
            return
        try:
            sink = None
            for item in inner:
                sink = call.first_chunk(item)
                yield item
                break
            if sink is None:
                yield from inner
            else:
                # The per-chunk path: one call into the accumulator. A failing accumulator is reported once and
                # dropped; the caller's stream goes on.
                for item in inner:
                    try:
                        sink(item)
                    except Exception as exc:
                        _chunk_failed(exc)
                        sink = _ignore
                    yield item
        except GeneratorExit:
            call.end(outcome="closed")
            inner.close()
            raise
        except BaseException as exc:
            call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
            raise
        call.end()

    return __stream__


def _observe_async(base_stream: Any) -> Any:
    async def __stream__(self: Any) -> AsyncIterator[Any]:
        inner = base_stream(self)
        call: Call | None = self._aigw_call
        if call is None:
            async for item in inner:
                yield item
            return
        try:
            sink = None
            async for item in inner:
                sink = call.first_chunk(item)
                yield item
                break
            if sink is None:
                async for item in inner:
                    yield item
            else:
                async for item in inner:
                    try:
                        sink(item)
                    except Exception as exc:
                        _chunk_failed(exc)
                        sink = _ignore
                    yield item
        except GeneratorExit:
            call.end(outcome="closed")
            raise
        except BaseException as exc:
            call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
            raise
        call.end()

    return __stream__


def _ignore(item: Any) -> None:
    pass


def _closed_by_caller(stream: Any) -> None:
    call: Call | None = getattr(stream, "_aigw_call", None)
    if call is not None and not call.reading:
        call.end(outcome="closed")


_CLASSES: dict[Any, type[Any]] = {}


def traced_stream_class(stream_cls: Any, is_async: bool) -> Any:
    """The observing subclass of an SDK stream class (``Stream[ChatCompletionChunk]`` and the like).

    Made once per stream class; the set of stream classes is fixed by the SDK's code, so the cache stays small.
    """
    cls = _CLASSES.get(stream_cls)
    if cls is not None:
        return cls
    origin = get_origin(stream_cls) or stream_cls
    base_init = origin.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        base_init(self, *args, **kwargs)
        try:
            self._aigw_call = call = _attach(self)
            if call is not None:
                # The generator the SDK made from our __stream__: while it runs, a body close is the SDK ending the
                # stream under it (exhausted, or failing), and the observer ends the call with the right outcome.
                call.observer = self._iterator
        except Exception as exc:
            self._aigw_call = None
            report("attaching to a stream", exc)

    base_close = origin.close

    # Stream.close() and `with` exit close the HTTP response, which ends the call through the body watcher; an
    # in-memory body is already closed by then, so the stream's own close ends it as well.
    if is_async:

        async def close(self: Any) -> None:
            try:
                await base_close(self)
            finally:
                _closed_by_caller(self)

    else:

        def close(self: Any) -> None:  # type: ignore[misc]
            try:
                base_close(self)
            finally:
                _closed_by_caller(self)

    namespace = {
        "__init__": __init__,
        "close": close,
        "__stream__": (_observe_async if is_async else _observe_sync)(origin.__stream__),
        "__module__": origin.__module__,
        "__qualname__": origin.__qualname__,
        "__doc__": origin.__doc__,
    }
    cls = types.new_class(origin.__name__, (stream_cls,), {}, lambda ns: ns.update(namespace))
    _CLASSES[stream_cls] = cls
    return cls
