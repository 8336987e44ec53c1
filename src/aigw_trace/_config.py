"""Settings, resolved once at ``instrument()`` time from keyword options and environment variables.

Keyword options win over environment variables; environment variables win over defaults. Nothing here is read on the
hot path: the resolved :class:`Settings` is handed to the instrumentation as one frozen object.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._gateway_headers import HostFilter, header_names
from ._hooks import RequestHook, ResponseHook

_log = logging.getLogger("aigw_trace")

ENV_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
ENV_EMIT_EVENT = "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT"
ENV_CONTENT_MAX_LENGTH = "AIGW_TRACE_CONTENT_MAX_LENGTH"
ENV_TIME_PER_OUTPUT_CHUNK = "AIGW_TRACE_TIME_PER_OUTPUT_CHUNK"
ENV_PROPAGATE = "AIGW_TRACE_PROPAGATE"
ENV_INJECT_HOSTS = "AIGW_TRACE_INJECT_HOSTS"
ENV_GATEWAY = "AIGW_TRACE_GATEWAY"
ENV_RESPONSE_HEADERS = "AIGW_TRACE_RESPONSE_HEADERS"
ENV_TRACERESPONSE = "AIGW_TRACE_TRACERESPONSE"
ENV_SESSION_BAGGAGE = "AIGW_TRACE_SESSION_BAGGAGE"
ENV_SESSION_HEADERS = "AIGW_TRACE_SESSION_HEADERS"

_OPTIONS = frozenset(
    {
        "capture_content",
        "emit_event",
        "content_max_length",
        "time_per_output_chunk",
        "propagate",
        "inject_hosts",
        "gateway",
        "response_headers",
        "traceresponse",
        "session_baggage",
        "session_headers",
        "request_hook",
        "response_hook",
    }
)


class ContentMode(enum.Enum):
    """Where prompt and completion content goes. Content is never captured unless asked for."""

    NO_CONTENT = "no_content"
    SPAN_ONLY = "span_only"
    EVENT_ONLY = "event_only"
    SPAN_AND_EVENT = "span_and_event"

    @property
    def on_span(self) -> bool:
        return self in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT)


_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def parse_content_mode(value: object) -> ContentMode:
    """Read a content mode from an option or an env var value.

    Accepts the ``ContentMode`` names (case-insensitive), ``True``/``"true"`` (meaning ``SPAN_ONLY``: content where
    most backends show it) and ``False``/``"false"``. Anything else logs a warning and means no content.
    """
    if isinstance(value, ContentMode):
        return value
    if value is True:
        return ContentMode.SPAN_ONLY
    if value is None or value is False:
        return ContentMode.NO_CONTENT
    text = str(value).strip().lower()
    if text in _TRUE:
        return ContentMode.SPAN_ONLY
    if text in _FALSE:
        return ContentMode.NO_CONTENT
    for mode in ContentMode:
        if text == mode.value:
            return mode
    _log.warning("aigw-trace: unknown content capture mode %r; capturing no content", value)
    return ContentMode.NO_CONTENT


def _env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    text = raw.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    _log.warning("aigw-trace: %s=%r is not a boolean; using %s", name, raw, default)
    return default


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        _log.warning("aigw-trace: %s=%r is not a positive integer; using %d", name, raw, default)
        return default
    return value


def _names(value: object) -> tuple[str, ...]:
    """A comma-separated string or an iterable of strings, as a tuple of non-empty names."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)  # type: ignore[call-overload]
    return tuple(str(v).strip() for v in items if str(v).strip())


def _response_headers(options: Mapping[str, Any], env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    presets = options.get("gateway")
    extra = options.get("response_headers")
    if presets is not None or extra is not None:
        return header_names(_names(presets), _names(extra))  # a bad option is a programming error: raise
    try:
        return header_names(_names(env.get(ENV_GATEWAY)), _names(env.get(ENV_RESPONSE_HEADERS)))
    except ValueError as exc:
        # From the environment (e.g. under opentelemetry-instrument) a typo must not stop the app: warn instead.
        _log.warning("aigw-trace: %s; recording no gateway response headers", exc)
        return ()


@dataclass(frozen=True)
class Settings:
    """Everything the instrumentation needs to know about the user's choices, resolved once."""

    content: ContentMode = ContentMode.NO_CONTENT
    emit_event: bool = False
    content_max_length: int = 65536
    time_per_output_chunk: bool = False
    propagate: bool = True
    inject_hosts: HostFilter | None = None
    """``None``: inject wherever the SDK sends."""
    response_headers: tuple[tuple[str, str], ...] = ()
    """(header, attribute key) pairs to record from gateway responses."""
    traceresponse: bool = True
    session_baggage: bool = False
    session_headers: tuple[str, ...] = ()
    request_hook: RequestHook | None = None
    response_hook: ResponseHook | None = None

    @property
    def reads_response_headers(self) -> bool:
        return bool(self.response_headers) or self.traceresponse or self.response_hook is not None

    @classmethod
    def resolve(cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Settings:
        """Merge ``instrument(**options)`` with the environment. Unknown options are rejected loudly: a typo in an
        option name would otherwise silently leave, e.g., content capture off."""
        env = os.environ if env is None else env
        unknown = set(options) - _OPTIONS
        if unknown:
            raise TypeError(f"aigw_trace.instrument() got unknown option(s): {', '.join(sorted(unknown))}")

        if options.get("capture_content") is not None:
            content = parse_content_mode(options["capture_content"])
        else:
            content = parse_content_mode(env.get(ENV_CAPTURE_CONTENT))
        if options.get("emit_event") is not None:
            emit_event = bool(options["emit_event"])
        else:
            emit_event = _env_bool(env, ENV_EMIT_EVENT, content.on_event)
        max_length = options.get("content_max_length") or _env_int(env, ENV_CONTENT_MAX_LENGTH, 65536)
        if options.get("time_per_output_chunk") is not None:
            per_chunk = bool(options["time_per_output_chunk"])
        else:
            per_chunk = _env_bool(env, ENV_TIME_PER_OUTPUT_CHUNK, False)
        if options.get("propagate") is not None:
            propagate = bool(options["propagate"])
        else:
            propagate = _env_bool(env, ENV_PROPAGATE, True)

        def pick(name: str, env_name: str) -> object:
            return options[name] if options.get(name) is not None else env.get(env_name)

        hosts = _names(pick("inject_hosts", ENV_INJECT_HOSTS))
        if options.get("traceresponse") is not None:
            traceresponse = bool(options["traceresponse"])
        else:
            traceresponse = _env_bool(env, ENV_TRACERESPONSE, True)
        if options.get("session_baggage") is not None:
            session_baggage = bool(options["session_baggage"])
        else:
            session_baggage = _env_bool(env, ENV_SESSION_BAGGAGE, False)
        for hook in ("request_hook", "response_hook"):
            if options.get(hook) is not None and not callable(options[hook]):
                raise TypeError(f"aigw_trace.instrument(): {hook} must be callable")
        return cls(
            content=content,
            emit_event=emit_event,
            content_max_length=int(max_length),
            time_per_output_chunk=per_chunk,
            propagate=propagate,
            inject_hosts=HostFilter(hosts) if hosts else None,
            response_headers=_response_headers(options, env),
            traceresponse=traceresponse,
            session_baggage=session_baggage,
            session_headers=tuple(h.lower() for h in _names(pick("session_headers", ENV_SESSION_HEADERS))),
            request_hook=options.get("request_hook"),
            response_hook=options.get("response_hook"),
        )
