"""Streams that end their call exactly once, whatever the caller does with them.

Two small pieces cover every exit path without proxying the SDK's stream object:

* :func:`traced_stream_class` makes, once per SDK stream class, a subclass whose ``__stream__`` hands each parsed
  item to the call. The caller still holds a genuine ``openai.Stream``/``anthropic.Stream`` (``isinstance`` and
  ``type`` checks keep working) and no context is attached across yields.
* :func:`watch_body` wraps the HTTP response's byte stream, so the call also ends when the SDK closes the
  response directly (``with`` exit, ``close()``, the ``.stream()`` helpers), when a raw streaming response is
  closed without ever being parsed, and when the response is garbage-collected unread. It works for ``httpx`` and
  ``httpx2`` responses alike (whichever the SDK, or the client the caller gave it, uses) and imports neither.

The first of them to see the end wins; :meth:`aigw_trace._call.Call.end` ignores the rest.
"""

from __future__ import annotations

import json
import sys
import types
from collections.abc import AsyncIterator, Iterator
from typing import Any, get_origin

from ._call import CALL_KEY, Call, current_call
from ._safety import report

__all__ = ["CALL_KEY", "current_call", "keep_isinstance", "trace_own_stream", "traced_stream_class", "watch_body"]


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


class _Watched:
    """What the body wrappers of every HTTP library share: the watched call, and transparency.

    Everything the wrapper does not define is read from the stream it wraps, so what the HTTP library and the SDK
    read off ``response.stream`` (``httpx2`` reads ``elapsed`` there) answers as it would without us.
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


def _sync_body_type(base: type[Any]) -> type[Any]:
    def __init__(self: Any, inner: Any, call: Call) -> None:
        self._inner = inner
        self.aigw_call = call
        self._buffer = [] if call.wants_body else None
        self._exhausted = False

    def __iter__(self: Any) -> Iterator[bytes]:
        buffer = self._buffer
        for chunk in self._inner:
            if buffer is not None:
                buffer.append(chunk)
            yield chunk
        self._exhausted = True

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
        buffer = self._buffer
        async for chunk in self._inner:
            if buffer is not None:
                buffer.append(chunk)
            yield chunk
        self._exhausted = True

    async def aclose(self: Any) -> None:
        try:
            await self._inner.aclose()
        finally:
            _body_closed(self.aigw_call, self._buffer, self._exhausted)

    namespace = {"__init__": __init__, "__aiter__": __aiter__, "aclose": aclose, "__module__": __name__}
    return type("_AsyncBody", (_Watched, base), namespace)


_BodyTypes = tuple[type[Any], type[Any], type[Any]]
"""(the library's sync byte-stream base, our sync wrapper, our async wrapper)."""

_BODY_TYPES: dict[type[Any], _BodyTypes | None] = {}
"""Per HTTP response class (``httpx.Response``, ``httpx2.Response``, a subclass): the wrappers for its library,
made on first sight. Keyed by class, so the set is bounded by the response classes the SDKs use."""


def _body_types(response_cls: type[Any]) -> _BodyTypes | None:
    if response_cls in _BODY_TYPES:
        return _BODY_TYPES[response_cls]
    found: _BodyTypes | None = None
    for cls in response_cls.__mro__:
        # The library the SDK already imported: found in sys.modules, never imported by us.
        library = sys.modules.get(cls.__module__.partition(".")[0])
        sync_base = getattr(library, "SyncByteStream", None)
        async_base = getattr(library, "AsyncByteStream", None)
        if getattr(library, "Response", None) is cls and isinstance(sync_base, type) and isinstance(async_base, type):
            found = (sync_base, _sync_body_type(sync_base), _async_body_type(async_base))
            break
    _BODY_TYPES[response_cls] = found
    return found


def watch_body(response: Any, call: Call) -> bool:
    """Make closing (or dropping) ``response`` end ``call``, for an ``httpx`` or ``httpx2`` response alike.

    Returns ``False`` for anything else (an object no known HTTP library made), which the caller ends itself."""
    stream = getattr(response, "stream", None)
    if isinstance(stream, _Watched):
        return True
    body_types = _body_types(response.__class__)
    if body_types is None or stream is None:
        return False
    sync_base, sync_body, async_body = body_types
    response.stream = (sync_body if isinstance(stream, sync_base) else async_body)(stream, call)
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
        if call.hides_usage_chunk:
            yield from _without_usage_chunk(inner, call)
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
            # Only dropping the stream closes this generator (the SDK's close() closes the response, which ends the
            # call as `closed` first): it was abandoned.
            call.end(outcome="abandoned")
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
        if call.hides_usage_chunk:
            async for item in _without_usage_chunk_async(inner, call):
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
            call.end(outcome="abandoned")
            raise
        except BaseException as exc:
            call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
            raise
        call.end()

    return __stream__


def _ignore(item: Any) -> None:
    pass


def _usage_only_of(call: Call) -> Any:
    """The endpoint's own test for the item its usage request adds (see ``StreamUsage``)."""
    usage = call.endpoint.stream_usage
    return usage.usage_only if usage is not None else _never


def _never(item: Any) -> bool:
    return False


def _without_usage_chunk(inner: Iterator[Any], call: Call) -> Iterator[Any]:
    """The observer for a stream whose usage aigw-trace asked for: every item is folded, the usage-only chunk is
    not yielded. A path of its own, so the usual stream pays nothing for the check."""
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
        inner.close()  # type: ignore[attr-defined]
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


async def _without_usage_chunk_async(inner: AsyncIterator[Any], call: Call) -> AsyncIterator[Any]:
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
        raise
    except BaseException as exc:
        call.end(exc, outcome="error" if isinstance(exc, Exception) else "cancelled")
        raise
    call.end()


def _closed_by_caller(stream: Any) -> None:
    call: Call | None = getattr(stream, "_aigw_call", None)
    if call is not None and not call.reading:
        call.end(outcome="closed")


_CLASSES: dict[Any, type[Any]] = {}
_TRACED: set[type[Any]] = set()
"""Every class :func:`traced_stream_class` made (bounded like ``_CLASSES``)."""


def keep_isinstance(original: Any) -> Any:
    """A replacement for a stream metaclass's ``__instancecheck__`` that also accepts our traced subclasses.

    anthropic 0.x gives ``Stream``/``AsyncStream`` a metaclass whose ``isinstance`` answers ``False`` for every
    subclass instance (only the exact class passes, through Python's own shortcut). A substituted subclass would then
    fail the caller's ``isinstance(stream, anthropic.Stream)``, and ours; this keeps it true for our subclasses only
    and leaves every other answer, warnings included, to the SDK.
    """

    def __instancecheck__(cls: Any, instance: Any) -> bool:
        if instance.__class__ in _TRACED and issubclass(instance.__class__, cls):
            return True
        return bool(original(cls, instance))

    return __instancecheck__


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
    _TRACED.add(cls)
    _CLASSES[stream_cls] = cls
    return cls


def trace_own_stream(is_async: bool) -> Any:
    """For a stream helper that builds its own SDK stream from the response (``self._raw_stream``) instead of taking
    the one the SDK's request returned (anthropic 0.x up to about 0.4x): make the one it builds a traced one, so the
    call still sees each event. Returns a ``make`` for :func:`aigw_trace._patch.patch` of the helper's ``__init__``."""

    def make(original: Any) -> Any:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            try:
                raw = getattr(self, "_raw_stream", None)
                if raw is None or raw.__class__ in _TRACED or call_of(raw.response) is None:
                    return
                cls = traced_stream_class(raw.__class__, is_async)
                self._raw_stream = cls(cast_to=raw._cast_to, response=raw.response, client=raw._client)
            except Exception as exc:
                report("attaching to a stream helper", exc)

        return __init__

    return make
