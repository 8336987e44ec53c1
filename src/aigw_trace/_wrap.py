"""The one mechanism every provider shares: patch a Stainless-generated SDK's base client.

Both SDKs funnel every endpoint, sync and async, streaming and raw, through ``SyncAPIClient.request`` /
``AsyncAPIClient.request``, and build every HTTP attempt (retries included) in ``BaseClient._build_request``,
before any request signing. So two patches per SDK cover everything:

* ``request``: start the call's span, make it current for the whole send (retries included), end it when the
  result is known — or hand the ending to the stream machinery in ``_streams``.
* ``_build_request``: inject the trace context into each attempt's headers, from the call's context, without
  overwriting what the caller set in ``default_headers`` or ``extra_headers`` (not patched at all when injection is
  turned off). Into the finished request rather than the SDK's header dict, so the header is not copied and
  re-encoded by every step in between.

A third, ``_process_response``, only notes the final response's headers (gateway headers, ``traceresponse``) and
is left out when nothing reads them. Each patch is a plain function installed by :func:`patch`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import baggage
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import INVALID_SPAN, SpanKind, set_span_in_context
from opentelemetry.util.types import AttributeValue

from . import _attributes as A
from ._call import CALL_KEY, Call
from ._content import capture_inputs
from ._hooks import RequestInfo
from ._inject import inject_headers
from ._metrics import MetricAttributes
from ._patch import patch
from ._providers._spec import Endpoint, Provider
from ._safety import report
from ._scope import scoped_attributes
from ._streams import keep_isinstance, traced_stream_class, watch_body
from ._telemetry import SCOPE, Telemetry

_MAX_CONSTANTS_PER_CLIENT = 64
_NO_BODY: Mapping[str, Any] = {}
_SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, Context())))
"""The context key the API keeps the current span under, read off the API itself rather than imported privately."""
_SESSION_BAGGAGE_KEY = "session.id"
"""The baggage key LiteLLM reads as its session id (see docs/gateways)."""


class Instrumentation:
    """aigw-trace applied to one SDK: the patches, and what they need at call time, resolved once."""

    def __init__(self, provider: Provider, tel: Telemetry) -> None:
        self.provider = provider
        self.tel = tel
        self._provider_names: dict[type[Any], str] = {}
        self._undo: list[Callable[[], None]] = []
        self.installed = False
        # Resolved in install(): the SDK's own classes, for isinstance checks on results.
        self._stream_bases: tuple[type[Any], ...] = ()
        self._async_stream: type[Any] | None = None
        self._raw_bases: tuple[type[Any], ...] = ()

    # --- install / uninstall ---

    def install(self) -> None:
        if self.installed:
            return
        p = self.provider
        layout = p.layout
        streams = importlib.import_module(f"{p.package}.{layout.stream_module}")
        self._async_stream = getattr(streams, layout.async_stream)
        self._stream_bases = (getattr(streams, layout.sync_stream), self._async_stream)
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
            self._undo.append(patch(getattr(base, cls_name), method, make))
        for meta in {type(cls) for cls in self._stream_bases}:
            # Only a metaclass of the SDK's own that answers isinstance itself (anthropic 0.x): see keep_isinstance.
            if meta.__module__.partition(".")[0] == p.package and "__instancecheck__" in vars(meta):
                self._undo.append(patch(meta, "__instancecheck__", keep_isinstance))
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

    # --- per call ---

    def _provider_name(self, client: Any) -> str:
        cls = type(client)
        name = self._provider_names.get(cls)
        if name is None:
            fn = self.provider.provider_name
            name = fn(client) if fn is not None else self.provider.name
            self._provider_names[cls] = name
        return name

    def begin(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        """Start a call for ``client.request(*args, **kwargs)``, or ``None`` to leave it alone. Never raises.

        One function rather than a chain of helpers: it runs before every SDK request.
        """
        ctx = otel_context.get_current()
        keys = _SUPPRESS_KEYS
        if keys is not None:  # suppress_instrumentation(), read from the context this call starts in
            if ctx.get(keys[0]) or ctx.get(keys[1]):
                return None
        elif not is_instrumentation_enabled():
            return None
        if not self.installed:  # our patch outlived uninstall under someone else's
            return None
        span = None
        try:
            options = args[1] if len(args) > 1 else kwargs["options"]
            routed = self.provider.route(options)
            if routed is None:
                return None
            specifics = None
            if isinstance(routed, Endpoint):  # exact class: Python's own shortcut answers
                endpoint = routed
            else:  # ids of this call's own around a prepared endpoint
                specifics = routed
                endpoint = routed.endpoint
            tel = self.tel
            body = options.json_data
            if body.__class__ is not dict and not isinstance(body, Mapping):
                body = _NO_BODY
            extra = options.extra_json
            if extra:
                # What is sent is the body merged with `extra_body`; anthropic's sampling knobs only travel there.
                body = {**body, **extra}
            model = body.get(endpoint.model)
            if not isinstance(model, str):
                model = None

            cache = client.__dict__.get("_aigw_constants")
            entry = cache[1].get((endpoint, model)) if cache is not None and cache[0] is client._base_url else None
            if entry is None:
                entry = self._constant_part(client, endpoint, model)
            metrics, base_attrs, name = entry
            attrs = dict(base_attrs)
            if specifics is not None:
                attrs.update(specifics.attributes)
                name = specifics.span_name or name
            endpoint.read_request(body, attrs)
            stream = bool(kwargs.get("stream"))
            hides_usage_chunk = False
            if stream:
                attrs[A.REQUEST_STREAM] = True
                if endpoint.stream_usage is not None and tel.settings.stream_usage:
                    hides_usage_chunk = ask_for_stream_usage(options, endpoint.stream_usage.option)
                stream_cls = kwargs.get("stream_cls")
                if stream_cls is not None:
                    origin = getattr(stream_cls, "__origin__", stream_cls)
                    if isinstance(origin, type) and issubclass(origin, self._stream_bases):
                        kwargs["stream_cls"] = traced_stream_class(
                            stream_cls, self._async_stream is not None and issubclass(origin, self._async_stream)
                        )
            scoped = scoped_attributes()
            if scoped:
                attrs.update(scoped)

            event_attrs: dict[str, Any] | None = None
            if endpoint.content is not None:
                if tel.logger is not None:
                    event_attrs = dict(attrs)  # the inference-details event is for endpoints with content only
                if tel.content_on_span or tel.content_on_event:
                    capture_inputs(tel, endpoint, body, attrs, event_attrs)

            span = tel.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attrs)
            accumulator = (
                endpoint.stream(tel.content_on_span or tel.content_on_event, endpoint.carried)
                if stream and endpoint.stream
                else None
            )
            call = Call(tel, endpoint, span, metrics, stream, accumulator, event_attrs)
            # One look at the enclosing span; the rest only under another instrumentation's CLIENT span.
            parent = ctx.get(_SPAN_KEY)
            if (
                getattr(parent, "kind", None) is SpanKind.CLIENT
                and not tel.settings.metrics_under_genai_spans
                and _other_genai_client(parent)
            ):
                call.records_metrics = False
            if hides_usage_chunk:
                call.hides_usage_chunk = True
            # One context carries both the span (so it is current, and what is injected) and the call.
            call.context = call.inject_context = Context({**ctx, _SPAN_KEY: span, CALL_KEY: call})
            if scoped or tel.settings.request_hook is not None:
                self._begin_extras(call, client, options, body, model, stream, scoped)
            return call
        except Exception as exc:
            report("starting a span", exc)
            if span is not None:
                span.end()  # started but not handed to a call: it still ends, once
            return None

    def _constant_part(
        self, client: Any, endpoint: Endpoint, model: str | None
    ) -> tuple[MetricAttributes, dict[str, AttributeValue], str]:
        """Metric attributes, start attributes and span name that depend only on client, endpoint and model.

        Cached on the client (invalidated when its base URL changes) and bounded, since models are caller-chosen.
        Callers must not mutate what they get.
        """
        url = client._base_url
        cache = client.__dict__.get("_aigw_constants")
        if cache is None or cache[0] is not url:
            cache = (url, {})
            client.__dict__["_aigw_constants"] = cache
        entries: dict[tuple[Endpoint, str | None], Any] = cache[1]
        key = (endpoint, model)  # holding the endpoint keeps its identity from being reused while cached
        entry = entries.get(key)
        if entry is None:
            metric: dict[str, AttributeValue] = {
                A.OPERATION_NAME: endpoint.operation,
                A.PROVIDER_NAME: self._provider_name(client),
            }
            if model:
                metric[A.REQUEST_MODEL] = model
            metric.update(_server_attributes(url))
            base = {**metric, **endpoint.attributes}
            name = endpoint.span_name or (f"{endpoint.operation} {model}" if model else endpoint.operation)
            if len(entries) >= _MAX_CONSTANTS_PER_CLIENT:
                entries.clear()
            entry = entries[key] = (MetricAttributes(metric), base, name)
        return entry

    def _begin_extras(
        self,
        call: Call,
        client: Any,
        options: Any,
        body: Mapping[str, Any],
        model: str | None,
        stream: bool,
        scoped: Mapping[str, AttributeValue] | None,
    ) -> None:
        """What only some calls need at the start: the session id from ``enrich()``, the request hook."""
        settings = self.tel.settings
        if scoped and (settings.session_baggage or settings.session_headers):
            session = scoped.get(A.CONVERSATION_ID)
            if isinstance(session, str):
                call.session_id = session
                if settings.session_baggage and baggage.get_baggage(_SESSION_BAGGAGE_KEY, call.context) is None:
                    # Only this allow-listed key is ever added; the app's own baggage (and its own session.id)
                    # stays as it is.
                    call.inject_context = baggage.set_baggage(_SESSION_BAGGAGE_KEY, session, call.context)
        if settings.request_hook is not None:
            info = RequestInfo(
                provider=str(call._metrics.base[A.PROVIDER_NAME]),
                operation=call.endpoint.operation,
                model=model,
                method=options.method,
                path=options.url,
                body=body,
                stream=stream,
                client=client,
            )
            token = otel_context.attach(call.context)  # type: ignore[arg-type]  # so the hook sees the call as current
            try:
                settings.request_hook(call.span, info)
            except Exception as exc:
                report("request_hook", exc)
            finally:
                otel_context.detach(token)

    def finish(self, call: Call, result: Any) -> Any:
        """Record ``result`` and end the call, or leave the ending to the stream machinery. Never raises."""
        try:
            if isinstance(result, self._stream_bases):
                # The observing subclass attached itself; a stream the SDK built from another class ends with
                # its body.
                if not call.ended:
                    watch_body(result.response, call)
            elif self._raw_bases and isinstance(result, self._raw_bases):
                self._finish_raw(call, result)
            else:
                call.end(response=result)
        except Exception as exc:
            report("reading the response", exc)
            call.end()
        return result

    def _finish_raw(self, call: Call, raw: Any) -> None:
        http = raw.http_response
        if call.stream or not _body_read(http):
            # with_streaming_response, or a raw stream: the caller decides when the body is read and closed.
            call.wants_body = not call.stream and call.endpoint.reads_response
            if not watch_body(http, call):
                call.end()
            return
        # with_raw_response on a plain call: the body is already here; read it without running the SDK's parser.
        try:
            parsed = json.loads(http.content)
        except ValueError:
            parsed = None
        call.end(response=parsed)

    # --- the patched methods: each ``make`` gets the SDK's original and returns its replacement ---

    def _request_sync(self, original: Callable[..., Any]) -> Callable[..., Any]:
        begin, finish, attach, detach = self.begin, self.finish, otel_context.attach, otel_context.detach

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
                detach(token)
            return finish(call, result)

        return request

    def _request_async(self, original: Callable[..., Any]) -> Callable[..., Any]:
        begin, finish, attach, detach = self.begin, self.finish, otel_context.attach, otel_context.detach

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
                detach(token)
            return finish(call, result)

        return request

    def _build_request(self, original: Callable[..., Any]) -> Callable[..., Any]:
        get_current = otel_context.get_current
        hosts = self.tel.settings.inject_hosts
        session_headers = self.tel.settings.session_headers

        def _build_request(client: Any, *args: Any, **kwargs: Any) -> Any:
            request = original(client, *args, **kwargs)
            call = get_current().get(CALL_KEY)  # current_call(), without a frame: this runs per attempt
            if call.__class__ is Call:
                try:
                    if hosts is None or hosts.allows(request.url.host):
                        options = args[0] if args else kwargs["options"]
                        inject_headers(request.headers, call, session_headers, client, options)
                except Exception as exc:
                    report("injecting trace context", exc)
            return request

        return _build_request

    def _process_response(self, original: Callable[..., Any]) -> Callable[..., Any]:
        get_current = otel_context.get_current

        def _process_response(client: Any, *args: Any, **kwargs: Any) -> Any:
            # The one place every successful call's final HTTP response passes, with its headers (read when it
            # ends).
            call = get_current().get(CALL_KEY)
            if call.__class__ is Call and call.headers is None:
                response = kwargs.get("response")
                if response is not None:
                    call.headers = response.headers
            return original(client, *args, **kwargs)

        return _process_response


def _suppression_keys() -> tuple[Any, Any] | None:
    """The context keys ``suppress_instrumentation()`` sets, so ``begin`` checks them in the context it reads anyway
    (the helper's two ``get_value`` calls cost more than everything else there); ``None`` if they ever move, and the
    public helper is used instead."""
    from opentelemetry.instrumentation import utils

    keys = (
        getattr(utils, "_SUPPRESS_INSTRUMENTATION_KEY", None),
        getattr(utils, "_SUPPRESS_INSTRUMENTATION_KEY_PLAIN", None),
    )
    return None if None in keys else keys


_SUPPRESS_KEYS = _suppression_keys()


def _classes_present(package: str, names: Sequence[tuple[str, str]]) -> Iterator[type[Any]]:
    """The classes of ``(module, class)`` pairs in ``package`` that the installed release has (each has a subset)."""
    for module_name, class_name in names:
        try:
            cls = getattr(importlib.import_module(f"{package}.{module_name}"), class_name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type):
            yield cls


def _body_read(http: Any) -> bool:
    try:
        http.content  # noqa: B018 - raises when the body has not been read yet
    except Exception:
        return False
    return True


def _server_attributes(url: Any) -> dict[str, AttributeValue]:
    """``server.address``/``server.port`` of a base URL (the gateway's, when there is one)."""
    attrs: dict[str, AttributeValue] = {}
    host = getattr(url, "host", None)
    if host:
        attrs[A.SERVER_ADDRESS] = host
        port = getattr(url, "port", None)
        if port is None:
            port = {"https": 443, "http": 80}.get(getattr(url, "scheme", ""))
        if port is not None:
            attrs[A.SERVER_PORT] = port
    return attrs


_RAW_RESPONSE_HEADER = "x-stainless-raw-response"
"""Set by ``with_raw_response``/``with_streaming_response``: the caller may read the raw bytes, which cannot be
filtered, so no usage chunk is asked for on their behalf."""


def ask_for_stream_usage(options: Any, path: tuple[str, ...]) -> bool:
    """Ask this streamed request for its usage (``path``: ``("stream_options", "include_usage")``) unless the caller
    decided either way or reads the raw response; the request's body is replaced, never the caller's dict changed.
    Returns whether it asked."""
    headers = getattr(options, "headers", None)
    if isinstance(headers, Mapping) and any(str(k).lower() == _RAW_RESPONSE_HEADER for k in headers):
        return False
    body = options.json_data
    if not isinstance(body, Mapping) or len(path) != 2:
        return False
    outer, key = path
    extra = getattr(options, "extra_json", None)
    if isinstance(extra, Mapping) and outer in extra:
        return False  # set through extra_body, which the SDK sends over the body
    inner = body.get(outer)
    if inner is None:
        inner = {}
    elif not isinstance(inner, Mapping) or key in inner:
        return False  # the caller's own choice (or an odd value): left as it is
    options.json_data = {**body, outer: {**inner, key: True}}
    return True


def _other_genai_client(span: Any) -> bool:
    """Whether ``span`` is a GenAI client span another instrumentation records for this call (a framework's own,
    e.g. pydantic-ai's): a CLIENT span naming a ``gen_ai.operation.name``, from another instrumentation scope."""
    scope = getattr(span, "instrumentation_scope", None)
    if getattr(scope, "name", None) == SCOPE:
        return False
    attributes = getattr(span, "attributes", None)
    return isinstance(attributes, Mapping) and attributes.get(A.OPERATION_NAME) is not None
