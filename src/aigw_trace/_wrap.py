"""A call's start and hand-over: what the patched ``request`` (``_install``) does before and after the SDK's own.

:meth:`Instrumentation.begin` reads the request once (route to an endpoint, request attributes, content when opted
in), starts the CLIENT span and makes the :class:`~aigw_trace._call.Call` that travels in the context with it.
:meth:`Instrumentation.finish` ends the call with the SDK's result, or hands the ending to the stream and HTTP body
watchers (``_streams``, ``_http_body``) when the result is a stream or a raw response whose body is yet to be read.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, SpanKind, set_span_in_context
from opentelemetry.util.types import AttributeValue

from . import _attributes as A
from ._call import CALL_KEY, Call, current_context
from ._framework_telemetry import framework_records_metrics
from ._http_body import watch_body
from ._install import Patches
from ._metrics import MetricAttributes
from ._providers._spec import Endpoint, Provider
from ._safety import report
from ._scope import scoped_attributes
from ._stream_usage import ask_for_stream_usage
from ._telemetry import SCOPE, Telemetry

_MAX_CONSTANTS_PER_CLIENT = 64
_NO_BODY: Mapping[str, Any] = {}
_SPAN_KEY = next(iter(set_span_in_context(INVALID_SPAN, Context())))
"""The context key the API keeps the current span under, read off the API itself rather than imported privately."""
_modules = sys.modules
_SESSION_BAGGAGE_KEY = "session.id"
"""The baggage key LiteLLM reads as its session id (see docs/gateways)."""


class Instrumentation(Patches):
    """aigw-trace applied to one SDK: its patches, and what they need at call time, resolved once."""

    def __init__(self, provider: Provider, tel: Telemetry) -> None:
        super().__init__(provider, tel)
        self._provider_names: dict[type[Any], str] = {}

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
        ctx = current_context()
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
            endpoint.read_request(body, attrs, tel.conventions)
            stream = bool(kwargs.get("stream"))
            hides_usage_chunk = False
            if stream:
                attrs[A.REQUEST_STREAM] = True
                if endpoint.stream_usage is not None and tel.settings.stream_usage:
                    hides_usage_chunk = ask_for_stream_usage(options, endpoint.stream_usage.option)
            scoped = scoped_attributes()
            if scoped:
                attrs.update(scoped)

            event_attrs: dict[str, Any] | None = None
            if endpoint.content is not None:
                if tel.logger is not None:
                    event_attrs = dict(attrs)  # the inference-details event is for endpoints with content only
                if tel.content_on_span or tel.content_on_event:
                    tel.capture_inputs(tel, endpoint, body, attrs, event_attrs)

            # The context read above, handed over: the SDK would otherwise read the current one three times.
            span = tel.tracer.start_span(name, context=ctx, kind=SpanKind.CLIENT, attributes=attrs)
            accumulator = (
                endpoint.stream(tel.content_on_span or tel.content_on_event, endpoint.carried)
                if stream and endpoint.stream
                else None
            )
            call = Call(tel, endpoint, span, metrics, stream, accumulator, event_attrs)
            # Another instrumentation records this call's GenAI metrics: one look at the enclosing span (the rest
            # only under a CLIENT span) and one at sys.modules (the rest only in a litellm call).
            parent = ctx.get(_SPAN_KEY)
            if not tel.settings.metrics_under_genai_spans and (
                (getattr(parent, "kind", None) is SpanKind.CLIENT and _other_genai_client(parent))
                or (_modules.get("litellm") is not None and framework_records_metrics())
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
            entry = entries[key] = (MetricAttributes(metric, self.provider.metric_attributes), base, name)
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
                baggage = self.tel.baggage
                if baggage is not None and baggage.get_baggage(_SESSION_BAGGAGE_KEY, call.context) is None:
                    # Only this allow-listed key is ever added; the app's own baggage (and its own session.id) stays
                    # as it is.
                    call.inject_context = baggage.set_baggage(_SESSION_BAGGAGE_KEY, session, call.context)
        if settings.request_hook is not None:
            info = self.tel.request_info(
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
            # issubclass, not isinstance: anthropic 0.x's stream metaclass answers isinstance False for a subclass
            # of its stream (BedrockStream).
            if issubclass(result.__class__, self._stream_bases):
                # The observer attaches itself where the SDK makes the stream's items (on first use in anthropic
                # 1.x and later): to this call, through the body watched here.
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


def _suppression_keys() -> tuple[Any, Any] | None:
    """The context keys ``suppress_instrumentation()`` sets, so ``begin`` checks them in the context it reads anyway
    (the helper's two ``get_value`` calls cost more than everything else there); ``None`` if they ever move, and the
    public helper is used instead. The keys are the API's and the plain string opentelemetry-instrumentation sets
    beside it, read without importing ``opentelemetry.instrumentation.utils``, which imports ``wrapt`` (about 4 ms of
    ``instrument()``); ``tests/test_startup.py`` keeps them equal to that module's."""
    key = getattr(otel_context, "_SUPPRESS_INSTRUMENTATION_KEY", None)
    return None if key is None else (key, "suppress_instrumentation")


def is_instrumentation_enabled() -> bool:
    """Whether the current context is free of ``suppress_instrumentation()``."""
    keys = _SUPPRESS_KEYS
    if keys is None:
        from opentelemetry.instrumentation.utils import is_instrumentation_enabled as enabled

        return enabled()
    ctx = otel_context.get_current()
    return not (ctx.get(keys[0]) or ctx.get(keys[1]))


_SUPPRESS_KEYS = _suppression_keys()


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


def _other_genai_client(span: Any) -> bool:
    """Whether ``span`` is a GenAI client span another instrumentation records for this call (a framework's own,
    e.g. pydantic-ai's): a CLIENT span naming a ``gen_ai.operation.name``, from another instrumentation scope."""
    scope = getattr(span, "instrumentation_scope", None)
    if getattr(scope, "name", None) == SCOPE:
        return False
    attributes = getattr(span, "attributes", None)
    return isinstance(attributes, Mapping) and attributes.get(A.OPERATION_NAME) is not None
