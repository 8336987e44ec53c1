"""What aigw-trace patches in a Stainless-generated SDK, and the undo.

Both SDKs funnel every endpoint, sync and async, streaming and raw, through ``SyncAPIClient.request`` /
``AsyncAPIClient.request``, build every HTTP attempt (retries included) in ``BaseClient._build_request``, before any
request signing, and make every stream's items in ``Stream.__stream__``/``AsyncStream.__stream__``. So a handful of
patches per SDK cover everything:

* ``request``: start the call's span (:meth:`~aigw_trace._wrap.Instrumentation.begin`), make it current for the
  whole send (retries included), end it when the result is known or hand the ending to the stream machinery
  (:meth:`~aigw_trace._wrap.Instrumentation.finish`).
* ``_build_request``: inject the trace context into each attempt's headers, from the call's context, without
  overwriting what the caller set in ``default_headers`` or ``extra_headers`` (not patched at all when injection is
  turned off). Into the finished request rather than the SDK's header dict, so the header is not copied and
  re-encoded by every step in between.
* ``_process_response`` only notes the final response's headers (gateway headers, ``traceresponse``) and is left out
  when nothing reads them.
* The stream classes' ``__stream__`` and ``close`` (``_streams``): the caller keeps the SDK's own stream class.

Each patch is a plain function installed by :func:`aigw_trace._patch.patch`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from opentelemetry import context as otel_context

from ._call import CALL_KEY, Call, attach_context, current_context, reset_context
from ._patch import patch
from ._providers._spec import Provider
from ._safety import report
from ._streams import observe_streams
from ._telemetry import Telemetry

__all__ = ["Patches"]


def _inject_on_first_use(*args: Any) -> None:
    """Takes ``_inject.inject_headers``'s place until the first HTTP attempt, which imports it and puts it here.

    ``_inject`` loads ``opentelemetry.propagate`` and, through the default propagators, ``opentelemetry.baggage``,
    whose regular expressions make up most of the 2 ms they cost: the first attempt pays that instead of
    ``instrument()`` (nothing, when another instrumentation already imported them), and an app that never calls
    an SDK never does. ``_build_request`` looks ``inject_headers`` up as a module global, so every later attempt
    calls the real one directly, at no added cost. Two threads here at once both import it (the import system lets
    one run the module) and both store the same function."""
    global inject_headers
    from ._inject import inject_headers as inject

    inject_headers = inject
    inject(*args)


inject_headers: Callable[..., None] = _inject_on_first_use


class Patches:
    """The patches of one SDK; :class:`aigw_trace._wrap.Instrumentation` adds what they call per request."""

    def __init__(self, provider: Provider, tel: Telemetry) -> None:
        self.provider = provider
        self.tel = tel
        self._undo: list[Callable[[], None]] = []
        self.installed = False
        # Resolved in install(): the SDK's own classes, for checks on results.
        self._stream_bases: tuple[type[Any], ...] = ()
        self._raw_bases: tuple[type[Any], ...] = ()

    def begin(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        raise NotImplementedError

    def finish(self, call: Call, result: Any) -> Any:
        raise NotImplementedError

    # --- install / uninstall ---

    def install(self) -> None:
        if self.installed:
            return
        p = self.provider
        layout = p.layout
        streams = importlib.import_module(f"{p.package}.{layout.stream_module}")
        self._stream_bases = (getattr(streams, layout.sync_stream), getattr(streams, layout.async_stream))
        self._raw_bases = tuple(_classes_present(p.package, layout.raw_responses))
        base = importlib.import_module(f"{p.package}.{layout.base_client_module}")
        patches: list[tuple[str, str, Callable[[Any], Callable[..., Any]]]] = [
            (layout.sync_client, "request", self._request_sync),
            (layout.async_client, "request", self._request_async),
        ]
        if self.tel.settings.propagate:  # with injection off, there is nothing to do per attempt
            patches.append(("BaseClient", "_build_request", self._build_request))
        if self.tel.settings.reads_response_headers:
            patches += [
                (layout.sync_client, "_process_response", self._process_response),
                (layout.async_client, "_process_response", self._process_response),
            ]
        for cls_name, method, make in patches:
            owner = getattr(base, cls_name)
            original = getattr(owner, method)
            self._undo.append(patch(owner, method, make))
            for shadowing in _copies_below(owner, method, original):
                self._undo.append(patch(shadowing, method, make))
        self._undo += observe_streams(*self._stream_bases)
        if p.extra_setup is not None:
            self._undo.append(p.extra_setup(self))
        self.installed = True

    def uninstall(self) -> None:
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:
                report("uninstrumenting", exc)
        self.installed = False

    # --- the patched methods: each ``make`` gets the SDK's original and returns its replacement ---

    def _request_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        generic = self._request_sync_generic(original)
        if not _takes(original, _REQUEST):
            return generic
        begin, finish, detach = self.begin, self.finish, otel_context.detach
        attach, reset = attach_context, reset_context

        def request(client: Any, cast_to: Any, options: Any, *, stream: Any = _UNSET, stream_cls: Any = _UNSET) -> Any:
            if stream is _UNSET or stream_cls is _UNSET:  # not how the SDK calls it: the generic path
                return generic(client, cast_to, options, **_given(stream=stream, stream_cls=stream_cls))
            call = begin(client, (cast_to, options), {"stream": stream, "stream_cls": stream_cls})
            if call is None:
                return original(client, cast_to, options, stream=stream, stream_cls=stream_cls)
            token = attach(call.context)  # type: ignore[arg-type]
            try:
                result = original(client, cast_to, options, stream=stream, stream_cls=stream_cls)
            except BaseException as exc:
                call.end(exc)
                raise
            finally:
                try:
                    reset(token)
                except Exception:  # a token of another context: the API's detach logs it, as it always has
                    detach(token)
            return finish(call, result)

        return request

    def _request_sync_generic(self, original: Callable[..., Any]) -> Callable[..., Any]:
        begin, finish, detach = self.begin, self.finish, otel_context.detach
        attach, reset = attach_context, reset_context

        def request(client: Any, *args: Any, **kwargs: Any) -> Any:
            call = begin(client, args, kwargs)
            if call is None:
                return original(client, *args, **kwargs)
            token = attach(call.context)  # type: ignore[arg-type]
            try:
                result = original(client, *args, **kwargs)
            except BaseException as exc:
                call.end(exc)
                raise
            finally:
                try:
                    reset(token)
                except Exception:  # a token of another context: the API's detach logs it, as it always has
                    detach(token)
            return finish(call, result)

        return request

    def _request_async(self, original: Callable[..., Any]) -> Callable[..., Any]:
        generic = self._request_async_generic(original)
        if not _takes(original, _REQUEST):
            return generic
        begin, finish, detach = self.begin, self.finish, otel_context.detach
        attach, reset = attach_context, reset_context

        async def request(
            client: Any, cast_to: Any, options: Any, *, stream: Any = _UNSET, stream_cls: Any = _UNSET
        ) -> Any:
            if stream is _UNSET or stream_cls is _UNSET:  # not how the SDK calls it: the generic path
                return await generic(client, cast_to, options, **_given(stream=stream, stream_cls=stream_cls))
            call = begin(client, (cast_to, options), {"stream": stream, "stream_cls": stream_cls})
            if call is None:
                return await original(client, cast_to, options, stream=stream, stream_cls=stream_cls)
            token = attach(call.context)  # type: ignore[arg-type]
            try:
                result = await original(client, cast_to, options, stream=stream, stream_cls=stream_cls)
            except BaseException as exc:
                call.end(exc)
                raise
            finally:
                try:
                    reset(token)
                except Exception:  # a token of another context: the API's detach logs it, as it always has
                    detach(token)
            return finish(call, result)

        return request

    def _request_async_generic(self, original: Callable[..., Any]) -> Callable[..., Any]:
        begin, finish, detach = self.begin, self.finish, otel_context.detach
        attach, reset = attach_context, reset_context

        async def request(client: Any, *args: Any, **kwargs: Any) -> Any:
            call = begin(client, args, kwargs)
            if call is None:
                return await original(client, *args, **kwargs)
            token = attach(call.context)  # type: ignore[arg-type]
            try:
                result = await original(client, *args, **kwargs)
            except BaseException as exc:
                call.end(exc)
                raise
            finally:
                try:
                    reset(token)
                except Exception:  # a token of another context: the API's detach logs it, as it always has
                    detach(token)
            return finish(call, result)

        return request

    def _build_request(self, original: Callable[..., Any]) -> Callable[..., Any]:
        get_current = current_context
        hosts = self.tel.settings.inject_hosts
        session_headers = self.tel.settings.session_headers

        if not _takes(original, _BUILD_REQUEST):

            def _build_request_generic(client: Any, *args: Any, **kwargs: Any) -> Any:
                request = original(client, *args, **kwargs)
                call = get_current().get(CALL_KEY)
                if call.__class__ is Call:
                    try:
                        if hosts is None or hosts.allows(request.url.host):
                            options = args[0] if args else kwargs["options"]
                            inject_headers(request.headers, call, session_headers, client, options)
                    except Exception as exc:
                        report("injecting trace context", exc)
                return request

            return _build_request_generic

        def _build_request(client: Any, options: Any, *, retries_taken: Any = _UNSET) -> Any:
            if retries_taken is _UNSET:
                request = original(client, options)
            else:
                request = original(client, options, retries_taken=retries_taken)
            call = get_current().get(CALL_KEY)  # current_call(), without a frame: this runs per attempt
            if call.__class__ is Call:
                try:
                    if hosts is None or hosts.allows(request.url.host):
                        inject_headers(request.headers, call, session_headers, client, options)
                except Exception as exc:
                    report("injecting trace context", exc)
            return request

        return _build_request

    def _process_response(self, original: Callable[..., Any]) -> Callable[..., Any]:
        get_current = current_context

        def note(response: Any) -> None:
            # The one place every successful call's final HTTP response passes, with its headers (read when it
            # ends).
            call = get_current().get(CALL_KEY)
            if call.__class__ is Call and call.headers is None and response is not None:
                call.headers = response.headers

        if not _takes(original, _PROCESS_RESPONSE):

            def _process_response_generic(client: Any, *args: Any, **kwargs: Any) -> Any:
                note(kwargs.get("response"))
                return original(client, *args, **kwargs)

            return _process_response_generic

        def _process_response(
            client: Any,
            *,
            cast_to: Any,
            options: Any,
            response: Any,
            stream: Any,
            stream_cls: Any,
            retries_taken: Any = _UNSET,
        ) -> Any:
            call = get_current().get(CALL_KEY)  # note(response), inline: it runs on every call
            if call.__class__ is Call and call.headers is None and response is not None:
                call.headers = response.headers
            if retries_taken is _UNSET:
                return original(
                    client, cast_to=cast_to, options=options, response=response, stream=stream, stream_cls=stream_cls
                )
            return original(
                client,
                cast_to=cast_to,
                options=options,
                response=response,
                stream=stream,
                stream_cls=stream_cls,
                retries_taken=retries_taken,
            )

        return _process_response


_UNSET: Any = object()
"""A keyword the caller left out: passed on only when given, so the SDK's own default applies."""

_Signature = tuple[tuple[str, inspect._ParameterKind], ...]
_POS, _KW = inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY
_REQUEST: tuple[_Signature, ...] = (
    (("self", _POS), ("cast_to", _POS), ("options", _POS), ("stream", _KW), ("stream_cls", _KW)),
)
_BUILD_REQUEST: tuple[_Signature, ...] = (
    (("self", _POS), ("options", _POS)),
    (("self", _POS), ("options", _POS), ("retries_taken", _KW)),
)
_PROCESS_RESPONSE: tuple[_Signature, ...] = tuple(
    (("self", _POS), *((name, _KW) for name in ("cast_to", "options", "response", "stream", "stream_cls")), *last)
    for last in ((), (("retries_taken", _KW),))
)


def _takes(original: Callable[..., Any], signatures: tuple[_Signature, ...]) -> bool:
    """Whether ``original``'s parameters are one of ``signatures`` (names and kinds, in order; the optional ones
    have defaults), so a replacement with named parameters accepts exactly the calls it does and forwards them
    without repacking ``*args, **kwargs`` (some 2.5k instructions a frame). Otherwise (another SDK release, a
    wrapper that hides its signature) the generic replacement forwards whatever it gets."""
    try:
        params = tuple(inspect.signature(original).parameters.values())
    except (TypeError, ValueError):
        return False
    found = tuple((p.name, p.kind) for p in params)
    if found not in signatures:
        return False
    required = (
        {"self", "cast_to", "options", "response", "stream", "stream_cls"}
        if signatures is _PROCESS_RESPONSE
        else {"self", "cast_to", "options"}
    )
    return all((p.default is inspect.Parameter.empty) == (p.name in required) for p in params)


def _given(**kwargs: Any) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not _UNSET}


def _copies_below(owner: type[Any], method: str, original: Any) -> list[type[Any]]:
    """Subclasses (``openai.OpenAI``, say) that hold the base class's very method as their own attribute: what
    another instrumentation's ``uninstrument()`` can leave behind (OpenInference's assigns the original ``request``
    back onto the client class it had patched). Such a copy hides the base class's patched method, so it is patched
    too; a subclass with a method of its own (which calls ``super()``) is left to the base class's patch."""
    found: list[type[Any]] = []
    seen: set[type[Any]] = set()
    todo = list(owner.__subclasses__())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if vars(cls).get(method) is original:
            found.append(cls)
        todo += cls.__subclasses__()
    return found


def _classes_present(package: str, names: Sequence[tuple[str, str]]) -> Iterator[type[Any]]:
    """The classes of ``(module, class)`` pairs in ``package`` that the installed release has (each has a subset)."""
    for module_name, class_name in names:
        try:
            cls = getattr(importlib.import_module(f"{package}.{module_name}"), class_name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type):
            yield cls
