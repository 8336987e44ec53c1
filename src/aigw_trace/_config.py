"""Settings, resolved once at ``instrument()`` time from keyword options and environment variables.

Each option comes from its keyword if given (not ``None``), else its environment variable, else its default; every
option is declared once, in ``_options.OPTIONS``, and this module only applies that table. A bad keyword value raises
(a programming error, named with the accepted values); a bad environment value logs one warning and keeps the
default (under ``opentelemetry-instrument`` a typo must not stop the app). Nothing here is read on the hot path: the
resolved :class:`Settings` is handed to the instrumentation as one frozen object.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from . import _attributes as A
from ._gateway_headers import HostFilter, header_names
from ._options import BY_NAME, OPTIONS, ContentMode, Option

if TYPE_CHECKING:  # the hooks' module is imported only when a hook runs
    from ._hooks import RequestHook, ResponseHook

_log = logging.getLogger("aigw_trace")

PROVIDER_KEYS = ("tracer_provider", "meter_provider", "logger_provider")


def _keyword(option: Option, value: object) -> object:
    try:
        return option.kind.keyword(value)
    except TypeError as exc:
        raise TypeError(_refusal(option, value, exc)) from None
    except ValueError as exc:
        raise ValueError(_refusal(option, value, exc)) from None


def _refusal(option: Option, value: object, exc: Exception) -> str:
    detail = f" ({exc})" if str(exc) else ""
    return (
        f"aigw_trace.instrument(): {option.name}={value!r} is not accepted{detail}; accepted: {option.kind.accepted}"
        f" (or None: from {option.env}, else the default)"
    )


def _from_env(option: Option, env: Mapping[str, str], warn: Callable[[str], None]) -> object:
    raw = env.get(option.env)
    text = raw.strip() if raw else ""
    if not text:  # unset or empty: the default
        return option.default
    try:
        return option.kind.env(text, lambda detail: warn(f"{option.env}: {detail}"))
    except ValueError as exc:
        detail = f" ({exc})" if str(exc) else ""
        default = option.shown_default.replace("`", "")
        warn(f"{option.env}={raw!r} is not accepted{detail}; accepted: {option.kind.env_accepted}; using {default}")
        return option.default


def _warn(message: str) -> None:
    _log.warning("aigw-trace: %s", message)


def _quiet(message: str) -> None:
    pass


class Settings:
    """Everything the instrumentation needs to know about the user's choices, resolved once.

    Immutable, equal and hashed by its fields except :attr:`options`, as a frozen ``dataclass`` would be; written out
    because generating a dataclass's methods cost about a millisecond of ``instrument()`` (docs/performance.md)."""

    __slots__ = ("content", "content_max_length", "emit_event", "inject_hosts", "metrics_under_genai_spans",
                 "options", "propagate", "request_hook", "response_headers", "response_hook", "session_baggage",
                 "session_headers", "stream_usage", "time_per_output_chunk", "traceresponse")  # fmt: skip

    content: ContentMode
    emit_event: bool
    content_max_length: int
    time_per_output_chunk: bool
    stream_usage: bool
    metrics_under_genai_spans: bool
    propagate: bool
    inject_hosts: HostFilter | None
    """``None``: inject wherever the SDK sends."""
    response_headers: tuple[tuple[str, str], ...]
    """(header, attribute key) pairs to record from gateway responses."""
    traceresponse: bool
    session_baggage: bool
    session_headers: tuple[str, ...]
    request_hook: RequestHook | None
    response_hook: ResponseHook | None
    options: Mapping[str, object]
    """Each option's resolved value by option name (what a later ``instrument()`` call is compared with); left out
    of equality, hashing and ``repr``."""

    def __init__(
        self,
        content: ContentMode = ContentMode.NO_CONTENT,
        emit_event: bool = False,
        content_max_length: int = 65536,
        time_per_output_chunk: bool = False,
        stream_usage: bool = False,
        metrics_under_genai_spans: bool = False,
        propagate: bool = True,
        inject_hosts: HostFilter | None = None,
        response_headers: tuple[tuple[str, str], ...] = (),
        traceresponse: bool = True,
        session_baggage: bool = False,
        session_headers: tuple[str, ...] = (),
        request_hook: RequestHook | None = None,
        response_hook: ResponseHook | None = None,
        options: Mapping[str, object] | None = None,
    ) -> None:
        init = object.__setattr__
        init(self, "content", content)
        init(self, "emit_event", emit_event)
        init(self, "content_max_length", content_max_length)
        init(self, "time_per_output_chunk", time_per_output_chunk)
        init(self, "stream_usage", stream_usage)
        init(self, "metrics_under_genai_spans", metrics_under_genai_spans)
        init(self, "propagate", propagate)
        init(self, "inject_hosts", inject_hosts)
        init(self, "response_headers", response_headers)
        init(self, "traceresponse", traceresponse)
        init(self, "session_baggage", session_baggage)
        init(self, "session_headers", session_headers)
        init(self, "request_hook", request_hook)
        init(self, "response_hook", response_hook)
        init(self, "options", {} if options is None else options)

    def _compared(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _COMPARED)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._compared() == other._compared()

    def __hash__(self) -> int:
        return hash(self._compared())

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{name}={getattr(self, name)!r}' for name in _COMPARED)})"

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: Settings are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: Settings are immutable")

    @property
    def reads_response_headers(self) -> bool:
        """Whether anything needs the final response's headers: the span (gateway headers, ``traceresponse``) or
        the response hook. If nothing does, ``_process_response`` is not patched."""
        return bool(self.response_headers) or self.traceresponse or self.response_hook is not None

    @classmethod
    def resolve(
        cls, options: Mapping[str, Any], env: Mapping[str, str] | None = None, *, quiet: bool = False
    ) -> Settings:
        """Merge ``instrument(**options)`` with the environment (``quiet``: without warning about it).

        Unknown options are rejected loudly: a typo in an option name would otherwise silently leave, e.g., content
        capture off."""
        env = os.environ if env is None else env
        unknown = set(options) - set(BY_NAME)
        if unknown:
            raise TypeError(f"aigw_trace.instrument() got unknown option(s): {', '.join(sorted(unknown))}")
        warn = _quiet if quiet else _warn
        values: dict[str, object] = {}
        for option in OPTIONS:
            value = options.get(option.name)
            values[option.name] = _from_env(option, env, warn) if value is None else _keyword(option, value)
        content = cast(ContentMode, values["capture_content"])
        if values["emit_event"] is None:
            values["emit_event"] = content.on_event
        hosts = cast("tuple[str, ...]", values["inject_hosts"])
        return cls(
            content=content,
            emit_event=cast(bool, values["emit_event"]),
            content_max_length=cast(int, values["content_max_length"]),
            time_per_output_chunk=cast(bool, values["time_per_output_chunk"]),
            stream_usage=cast(bool, values["stream_usage"]),
            metrics_under_genai_spans=cast(bool, values["metrics_under_genai_spans"]),
            propagate=cast(bool, values["propagate"]),
            inject_hosts=HostFilter(hosts) if hosts else None,
            # Both name lists were checked above, so this cannot raise.
            response_headers=header_names(
                cast("tuple[str, ...]", values["gateway"]), cast("tuple[str, ...]", values["response_headers"])
            ),
            traceresponse=cast(bool, values["traceresponse"]),
            session_baggage=cast(bool, values["session_baggage"]),
            session_headers=cast("tuple[str, ...]", values["session_headers"]),
            request_hook=cast("RequestHook | None", values["request_hook"]),
            response_hook=cast("ResponseHook | None", values["response_hook"]),
            options=MappingProxyType(values),
        )


_COMPARED = tuple(name for name in Settings.__slots__ if name != "options")
"""The fields equality, hashing and ``repr`` use: every field but ``options``."""


def latest_genai_conventions(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``OTEL_SEMCONV_STABILITY_OPT_IN`` selects the latest GenAI conventions.

    The rules of ``opentelemetry-instrumentation``'s own parser (``_semconv.py``), mirrored because that one is
    private and caches the first reading for the whole process: a comma-separated list, each item stripped of
    surrounding whitespace, ``gen_ai_latest_experimental`` matched exactly (case included) among any other values.
    Read when the telemetry is built, at every ``instrument()``: uninstrumenting and instrumenting again picks up a
    changed value. Not an ``instrument()`` option: it is OpenTelemetry's switch, shared with other instrumentations.
    """
    raw = (os.environ if env is None else env).get(A.SEMCONV_OPT_IN_ENV) or ""
    return A.SEMCONV_OPT_IN_GEN_AI in (item.strip() for item in raw.split(","))


_active: tuple[Settings, tuple[object, ...]] | None = None
"""The settings and providers of the ``instrument()`` that patched the SDKs."""


def instrumenting(kwargs: Mapping[str, Any]) -> Settings:
    """Settings for the ``instrument(**kwargs)`` about to patch the SDKs, remembered so that a later call made while
    instrumented can say what it would have changed."""
    global _active
    settings = Settings.resolve({k: v for k, v in kwargs.items() if k not in PROVIDER_KEYS})
    _active = (settings, tuple(kwargs.get(k) for k in PROVIDER_KEYS))
    return settings


def warn_if_different(kwargs: Mapping[str, Any]) -> None:
    """For an ``instrument(**kwargs)`` made while instrumented, which changes nothing: one warning naming the options
    that differ from the active ones (e.g. ``opentelemetry-instrument`` came first and the app then asks for
    content). Bad keyword values still raise, as on a first call."""
    settings = Settings.resolve({k: v for k, v in kwargs.items() if k not in PROVIDER_KEYS}, quiet=True)
    if _active is None:
        return
    active, providers = _active
    differ = [o.name for o in OPTIONS if settings.options[o.name] != active.options.get(o.name)]
    differ += [
        k for k, old in zip(PROVIDER_KEYS, providers, strict=True) if kwargs.get(k) is not None and kwargs[k] is not old
    ]
    if differ:
        _log.warning(
            "aigw-trace: already instrumented, so instrument() changed nothing; these options differ from the "
            "active ones and were ignored: %s (call aigw_trace.uninstrument() first to change them)",
            ", ".join(differ),
        )
