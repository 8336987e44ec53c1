"""Watching an HTTP response's body, so that closing it, reading it to the end or dropping it ends the call.

This is how a call ends when the SDK closes the response directly (``with`` exit, ``close()``, the ``.stream()``
helpers), when a raw streaming response is closed without ever being parsed, and when the response is
garbage-collected unread. It works for ``httpx`` and ``httpx2`` responses alike (whichever the SDK, or the client
the caller gave it, uses) and imports neither.

The watcher goes one level down, where nobody looks: both libraries' clients put their own ``BoundSyncStream`` /
``BoundAsyncStream`` on ``response.stream`` (it records ``elapsed`` when the body closes) around the transport's byte
stream, and it is that inner stream the watcher wraps. ``response.stream`` stays the library's own object. Only a
response that did not come through a client of either library has its ``response.stream`` itself wrapped.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any

from ._call import Call

__all__ = ["call_of", "watch_body"]


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


class _Watched:
    """What the body wrappers of every HTTP library share: the watched call, and transparency.

    Everything the wrapper does not define is read from the stream it wraps, so whatever reads it (the library's own
    bound stream, or, where the wrapper had to take ``response.stream`` itself, the library and the SDK) is answered
    as it would be without us.
    """

    __slots__ = ()
    _inner: Any
    aigw_call: Call

    def __getattr__(self, name: str) -> Any:
        if name == "_inner":  # not set yet: never recurse
            raise AttributeError(name)
        return getattr(self._inner, name)

    def __del__(self) -> None:
        try:  # noqa: SIM105 - contextlib may already be torn down at interpreter shutdown
            self.aigw_call.end(outcome="abandoned")
        except Exception:  # interpreter shutdown, or never fully built: nothing sensible is left to do
            pass


def _exhausting(body: Any) -> Iterator[bytes]:
    """Yields nothing: reached when the body's reads are over, it marks the body exhausted."""
    body._exhausted = True
    yield from ()


def _buffered(body: Any) -> Iterator[bytes]:
    buffer = body._buffer
    for chunk in body._inner:
        buffer.append(chunk)
        yield chunk
    body._exhausted = True


def _sync_body_type(base: type[Any]) -> type[Any]:
    def __init__(self: Any, inner: Any, call: Call) -> None:
        self._inner = inner
        self.aigw_call = call
        self._buffer = [] if call.wants_body else None
        self._exhausted = False

    def __iter__(self: Any) -> Iterator[bytes]:
        if self._buffer is None:
            # A stream's body is read once per network read (an event, on a live stream): chained in C, the reads
            # pass through no Python frame of ours; only the end, which marks the body exhausted, does.
            return itertools.chain(self._inner, _exhausting(self))
        return _buffered(self)

    def close(self: Any) -> None:
        try:
            self._inner.close()
        finally:
            _body_closed(self.aigw_call, self._buffer, self._exhausted)

    namespace = {"__init__": __init__, "__iter__": __iter__, "close": close, "__module__": __name__}
    return type("_SyncBody", (_Watched, base), namespace)


def _async_body_type(base: type[Any]) -> type[Any]:
    def __init__(self: Any, inner: Any, call: Call) -> None:
        self._inner = inner
        self.aigw_call = call
        self._buffer = [] if call.wants_body else None
        self._exhausted = False

    async def __aiter__(self: Any) -> AsyncIterator[bytes]:
        # The inner generator is closed with this one, as the library's own bound stream closes what it wraps: an
        # `async for` only drops it, and the event loop then finalises it in a task of its own, one more per stream.
        inner = self._inner.__aiter__()
        buffer = self._buffer
        try:
            async for chunk in inner:
                if buffer is not None:
                    buffer.append(chunk)
                yield chunk
            self._exhausted = True
        finally:
            if isinstance(inner, AsyncGenerator):
                await inner.aclose()

    async def aclose(self: Any) -> None:
        try:
            await self._inner.aclose()
        finally:
            _body_closed(self.aigw_call, self._buffer, self._exhausted)

    namespace = {"__init__": __init__, "__aiter__": __aiter__, "aclose": aclose, "__module__": __name__}
    return type("_AsyncBody", (_Watched, base), namespace)


class _Library:
    """One HTTP library's byte-stream classes, and our wrappers for them."""

    __slots__ = ("async_base", "async_body", "both_body", "bound_async", "bound_sync", "sync_base", "sync_body")

    def __init__(self, library: Any, sync_base: type[Any], async_base: type[Any]) -> None:
        self.sync_base = sync_base
        self.async_base = async_base
        self.sync_body = _sync_body_type(sync_base)
        self.async_body = _async_body_type(async_base)
        # For a body that is both (test doubles often are), so that isinstance answers as it did.
        self.both_body = type("_Body", (self.sync_body, self.async_body), {"__module__": __name__})
        # The client's own wrappers around the transport's stream (a private class of each library; when a release
        # renames it, the watcher falls back to wrapping response.stream itself).
        client_module = sys.modules.get(f"{library.__name__}._client")
        self.bound_sync = _class_or_none(client_module, "BoundSyncStream", sync_base)
        self.bound_async = _class_or_none(client_module, "BoundAsyncStream", async_base)


def _class_or_none(module: Any, name: str, base: type[Any]) -> type[Any] | None:
    cls = getattr(module, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, base) else None


_LIBRARIES: dict[type[Any], _Library | None] = {}
"""Per HTTP response class (``httpx.Response``, ``httpx2.Response``, a subclass): its library's classes, found on
first sight. Keyed by class, so the set is bounded by the response classes the SDKs use."""


def _library_of(response_cls: type[Any]) -> _Library | None:
    if response_cls in _LIBRARIES:
        return _LIBRARIES[response_cls]
    found: _Library | None = None
    for cls in response_cls.__mro__:
        # The library the SDK already imported: found in sys.modules, never imported by us.
        library = sys.modules.get(cls.__module__.partition(".")[0])
        sync_base = getattr(library, "SyncByteStream", None)
        async_base = getattr(library, "AsyncByteStream", None)
        if getattr(library, "Response", None) is cls and isinstance(sync_base, type) and isinstance(async_base, type):
            found = _Library(library, sync_base, async_base)
            break
    _LIBRARIES[response_cls] = found
    return found


def _watched(stream: Any) -> _Watched | None:
    """Our wrapper on ``response.stream``, or inside the library's bound stream there."""
    if isinstance(stream, _Watched):
        return stream
    inner = getattr(stream, "_stream", None)
    return inner if isinstance(inner, _Watched) else None


def watch_body(response: Any, call: Call) -> bool:
    """Make closing (or dropping) ``response`` end ``call``, for an ``httpx`` or ``httpx2`` response alike.

    Returns ``False`` for anything else (an object no known HTTP library made), which the caller ends itself."""
    stream = getattr(response, "stream", None)
    if stream is None:
        return False
    if _watched(stream) is not None:
        return True
    library = _library_of(response.__class__)
    if library is None:
        return False
    cls = stream.__class__
    if cls is library.bound_sync or cls is library.bound_async:
        inner = getattr(stream, "_stream", None)
        if inner is not None:
            stream._stream = (library.sync_body if cls is library.bound_sync else library.async_body)(inner, call)
            return True
    is_sync, is_async = isinstance(stream, library.sync_base), isinstance(stream, library.async_base)
    body = library.both_body if is_sync and is_async else library.sync_body if is_sync else library.async_body
    response.stream = body(stream, call)
    return True


def call_of(response: Any) -> Call | None:
    """The call a response belongs to, if :func:`watch_body` saw it."""
    watched = _watched(getattr(response, "stream", None))
    return watched.aigw_call if watched is not None else None
