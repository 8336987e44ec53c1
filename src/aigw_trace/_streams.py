"""Streams that end their call exactly once, whatever the caller does with them.

The caller keeps the SDK's own stream object, of the SDK's own class (``type(stream) is openai.Stream`` holds). Two
small pieces cover every exit path without subclassing or proxying it:

* The SDK's ``Stream``/``AsyncStream`` make their item generator with ``self.__stream__()`` (every release of both
  SDKs; anthropic 1.x and later on first use, through a cached ``_iterator``) and iterate it through
  ``self._iterator``. :func:`observe_streams` patches ``__stream__`` on those two classes so that, for a stream that
  belongs to a call, the generator handed back is an observer in front of the SDK's own: it hands each item to the
  call and ends it when the items end, fail or the stream is dropped. No context is attached across yields, and
  the per-chunk path is one call into the call's accumulator. Every way the SDK builds a stream (the request, a raw
  response's ``parse()``, a helper that builds its own from the response) goes through it.
* :func:`aigw_trace._http_body.watch_body` watches the HTTP body under the stream, so closing the stream, exiting
  its ``with`` or closing the response ends the call as ``closed``; the patched ``close`` also ends it when the body
  was already closed (an in-memory body).

The first of them to see the end wins; :meth:`aigw_trace._call.Call.end` ignores the rest.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from typing import Any

from ._call import Call, current_call
from ._http_body import call_of, watch_body
from ._patch import patch
from ._safety import report

__all__ = ["observe_streams"]


# --- the observers ---

_SyncItems = Callable[[Any], Generator[Any, None, None]]
_AsyncItems = Callable[[Any], AsyncGenerator[Any, None]]
"""The SDK's ``Stream.__stream__`` / ``AsyncStream.__stream__``."""


def _chunk_failed(exc: Exception) -> None:
    report("stream chunk", exc)


def _observe_sync(original: _SyncItems, stream: Any, call: Call) -> Iterator[Any]:
    """The observer of a sync stream: it stands in the stream's ``_iterator``, in front of the SDK's generator.

    That generator is made here, on the first item, not before: a dropped stream is a cycle (the SDK's generator
    refers to its stream), which the collector finalises in the order its objects were made (CPython's, in
    practice), so the observer, made first, sees the stream abandoned before the SDK's generator closes the body."""
    inner = original(stream)
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
        # Only dropping the stream closes this generator (the SDK's close() closes the response, which ends the
        # call as `closed` first): it was abandoned.
        call.end(outcome="abandoned")
        inner.close()
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


async def _observe_async(original: _AsyncItems, stream: Any, call: Call) -> AsyncIterator[Any]:
    inner = original(stream)
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
        call.end(outcome="abandoned")
        await _close_inner(inner)
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


async def _close_inner(inner: Any) -> None:
    """Close the SDK's generator now, in the observer's own finalisation, so a dropped stream's body is released when
    it would be uninstrumented rather than one finaliser later. When a collected cycle finalises both and the SDK's
    is already closing itself, it is left to that."""
    if not inner.ag_running:
        try:
            await inner.aclose()
        except RuntimeError as exc:
            if "already running" not in str(exc):  # anything but aclose() of a generator already closing
                raise


def _ignore(item: Any) -> None:
    pass


def _usage_only_of(call: Call) -> Any:
    """The endpoint's own test for the item its usage request adds (see ``StreamUsage``)."""
    usage = call.endpoint.stream_usage
    return usage.usage_only if usage is not None else _never


def _never(item: Any) -> bool:
    return False


def _without_usage_chunk(original: _SyncItems, stream: Any, call: Call) -> Iterator[Any]:
    """The observer for a stream whose usage aigw-trace asked for: every item is folded, the usage-only chunk is
    not yielded. A path of its own, so the usual stream pays nothing for the check."""
    inner = original(stream)
    usage_only = _usage_only_of(call)
    sink: Any = None
    try:
        for item in inner:
            if sink is None:
                sink = call.first_chunk(item) or _ignore
            else:
                try:
                    sink(item)
                except Exception as exc:
                    _chunk_failed(exc)
                    sink = _ignore
            if not usage_only(item):
                yield item
    except GeneratorExit:
        call.end(outcome="abandoned")
        inner.close()
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


async def _without_usage_chunk_async(original: _AsyncItems, stream: Any, call: Call) -> AsyncIterator[Any]:
    inner = original(stream)
    usage_only = _usage_only_of(call)
    sink: Any = None
    try:
        async for item in inner:
            if sink is None:
                sink = call.first_chunk(item) or _ignore
            else:
                try:
                    sink(item)
                except Exception as exc:
                    _chunk_failed(exc)
                    sink = _ignore
            if not usage_only(item):
                yield item
    except GeneratorExit:
        call.end(outcome="abandoned")
        await _close_inner(inner)
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


# --- attaching to the SDK's streams ---


def _attach(stream: Any) -> Call | None:
    """The streaming call ``stream`` belongs to: the one whose body is watched under it (a raw response parsed, a
    helper's own stream, anthropic's lazy iterator), else the call in progress (the SDK building the stream while
    the call's request runs)."""
    response = stream.response
    call = call_of(response)
    if call is None:
        call = current_call()
        if call is None or call.ended or not call.stream:
            return None
        watch_body(response, call)
    elif call.ended or not call.stream:
        return None
    return call


def _stream_method(original: Callable[[Any], Any], is_async: bool) -> Callable[[Any], Any]:
    """The SDK's ``__stream__``, handing back the observer in front of its generator when the stream is a call's."""
    observe = _observe_async if is_async else _observe_sync
    hide = _without_usage_chunk_async if is_async else _without_usage_chunk

    def __stream__(self: Any) -> Any:
        try:
            call = _attach(self)
        except Exception as exc:
            report("attaching to a stream", exc)
            call = None
        if call is None:
            return original(self)
        observer = (hide if call.hides_usage_chunk else observe)(original, self, call)
        # While it runs, a body close is the SDK ending the stream under it (exhausted, or failing), and the observer
        # ends the call with the right outcome.
        call.observer = _Running(observer)
        return observer

    return __stream__


class _Running(weakref.ref[Any]):
    """What :attr:`Call.reading <aigw_trace._call.Call.reading>` asks of the observer: a weak reference to it.

    The body watcher holds the call; were the call to hold the observer, a dropped stream would be cyclic garbage
    (observer, SDK generator, response, body, call), its body released only when the collector runs instead of as
    soon as the caller lets go, as it is uninstrumented. The reference itself answers, so a stream adds one object
    here, not two (with 1,000 streams alive, each object a stream keeps counts towards the next collection)."""

    __slots__ = ()

    @property
    def gi_running(self) -> bool:
        return bool(getattr(self(), "gi_running", False))

    @property
    def ag_running(self) -> bool:
        return bool(getattr(self(), "ag_running", False))


def _closed_by_caller(stream: Any) -> None:
    try:
        call = call_of(stream.response)
        if call is not None and not call.reading:
            call.end(outcome="closed")
    except Exception as exc:
        report("closing a stream", exc)


def _close_method(original: Callable[[Any], Any], is_async: bool) -> Callable[[Any], Any]:
    """The SDK's ``close``: it closes the HTTP response, which ends the call through the body watcher; an in-memory
    body is already closed by then, so the stream's own close ends it as well."""
    if is_async:

        async def aclose(self: Any) -> None:
            try:
                await original(self)
            finally:
                _closed_by_caller(self)

        return aclose

    def close(self: Any) -> None:
        try:
            original(self)
        finally:
            _closed_by_caller(self)

    return close


def observe_streams(sync_stream: type[Any], async_stream: type[Any]) -> list[Callable[[], None]]:
    """Patch the SDK's two stream classes (``__stream__`` and ``close``); returns the undos."""
    undo = []
    for cls, is_async in ((sync_stream, False), (async_stream, True)):
        undo.append(patch(cls, "__stream__", functools.partial(_stream_method, is_async=is_async)))
        undo.append(patch(cls, "close", functools.partial(_close_method, is_async=is_async)))
    return undo
