"""Attributes scoped to a block of code, added to every GenAI span started inside it.

The scope lives in a ``ContextVar``, so it follows ``asyncio`` tasks (each task copies the context it was created
in). Threads do not inherit context variables: run the thread's target through ``contextvars.copy_context().run``
(or use ``opentelemetry.context`` aware executors) to carry a scope across.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar

from opentelemetry.util.types import AttributeValue

from . import _attributes as A
from ._call import current_call

_log = logging.getLogger("aigw_trace")

_SCOPED: ContextVar[dict[str, AttributeValue] | None] = ContextVar("aigw_trace_scoped_attributes", default=None)

F = TypeVar("F", bound=Callable[..., Any])


scoped_attributes: Callable[[], dict[str, AttributeValue] | None] = _SCOPED.get
"""The attributes of the innermost enclosing scope (already merged with outer scopes), if any. The context
variable's own ``get``: read on every call, so no Python frame around it."""


def _valid(value: object) -> bool:
    if isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        kinds = {type(v) for v in value}
        return len(kinds) <= 1 and kinds <= {str, bool, int, float}
    return False


def clean(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Keep what OpenTelemetry can carry as an attribute; drop the rest with one warning naming the keys."""
    good: dict[str, AttributeValue] = {}
    bad: list[str] = []
    for key, value in attributes.items():
        if value is None:
            continue
        if isinstance(key, str) and key and _valid(value):
            good[key] = list(value) if isinstance(value, Sequence) and not isinstance(value, str) else value  # type: ignore[assignment]
        else:
            bad.append(repr(key))
    if bad:
        _log.warning(
            "aigw-trace: dropped attribute(s) %s: values must be str, bool, int, float or a list of one of them",
            ", ".join(bad),
        )
    return good


class attributes:
    # Lower-case on purpose: it reads like a function at the call site (`with aigw_trace.attributes(...)`).
    """Add attributes to every GenAI span started inside a block or a decorated function.

    ``conversation_id`` becomes ``gen_ai.conversation.id`` and ``user_id`` becomes ``user.id``; other keyword
    arguments are custom attributes (OpenTelemetry types only — a bad value is dropped with a warning, never
    raised). Scopes nest: inner values win, outer ones remain. Works as a decorator on functions, coroutines,
    generators and async generators (the scope is active while their body runs).
    """

    def __init__(self, conversation_id: str | None = None, user_id: str | None = None, **custom: Any) -> None:
        values: dict[str, object] = dict(custom)
        if conversation_id is not None:
            values[A.CONVERSATION_ID] = conversation_id
        if user_id is not None:
            values[A.USER_ID] = user_id
        self._attributes = clean(values)
        self._tokens: list[Token[dict[str, AttributeValue] | None]] = []

    def _push(self) -> Token[dict[str, AttributeValue] | None]:
        outer = _SCOPED.get()
        return _SCOPED.set({**outer, **self._attributes} if outer else dict(self._attributes))

    def __enter__(self) -> attributes:
        self._tokens.append(self._push())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _SCOPED.reset(self._tokens.pop())

    def __call__(self, fn: F) -> F:
        # Each invocation gets its own token, so one decorated function can run in many tasks at once.
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen(*args: Any, **kwargs: Any) -> Any:
                # Active only while the generator's own code runs, never across its yields.
                inner = fn(*args, **kwargs)
                value: Any = None
                thrown: BaseException | None = None
                while True:
                    token = self._push()
                    try:
                        item = await (inner.athrow(thrown) if thrown is not None else inner.asend(value))
                    except StopAsyncIteration:
                        return
                    finally:
                        _SCOPED.reset(token)
                    thrown = None
                    try:
                        value = yield item
                    except GeneratorExit:
                        await inner.aclose()
                        raise
                    except BaseException as exc:
                        thrown = exc

            return agen  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen(*args: Any, **kwargs: Any) -> Any:
                inner = fn(*args, **kwargs)
                value: Any = None
                thrown: BaseException | None = None
                while True:
                    token = self._push()
                    try:
                        item = inner.throw(thrown) if thrown is not None else inner.send(value)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        _SCOPED.reset(token)
                    thrown = None
                    try:
                        value = yield item
                    except GeneratorExit:
                        inner.close()
                        raise
                    except BaseException as exc:
                        thrown = exc

            return gen  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def coro(*args: Any, **kwargs: Any) -> Any:
                token = self._push()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _SCOPED.reset(token)

            return coro  # type: ignore[return-value]

        @functools.wraps(fn)
        def plain(*args: Any, **kwargs: Any) -> Any:
            token = self._push()
            try:
                return fn(*args, **kwargs)
            finally:
                _SCOPED.reset(token)

        return plain  # type: ignore[return-value]


def enrich(conversation_id: str | None = None, user_id: str | None = None, **custom: Any) -> bool:
    """Add attributes to the GenAI span of the SDK call in progress (e.g. from a hook or a callback that runs
    during the call). Returns whether there was one; values are validated like :class:`attributes`."""
    call = current_call()
    if call is None or call.ended:
        return False
    values: dict[str, object] = dict(custom)
    if conversation_id is not None:
        values[A.CONVERSATION_ID] = conversation_id
    if user_id is not None:
        values[A.USER_ID] = user_id
    good = clean(values)
    if good:
        call.span.set_attributes(good)
    return True
