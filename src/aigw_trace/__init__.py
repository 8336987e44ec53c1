"""aigw-trace: OpenTelemetry GenAI spans for the ``openai`` and ``anthropic`` SDKs that join your AI gateway's trace.

Public API::

    import aigw_trace
    aigw_trace.instrument()          # or: opentelemetry-instrument python app.py
    aigw_trace.uninstrument()
"""

# No `from __future__ import annotations` and no bare typing imports: `dir(aigw_trace)` shows only the public API.
# Annotations that name typing-only types are quoted instead.
#
# Importing the package loads only the options table (for instrument()'s docstring and ContentMode): the rest, the
# instrumentor (which brings opentelemetry-instrumentation and `packaging`), the wrapping code and the hook and scope
# helpers, is imported on first use, so an application pays for it at instrument() or not at all
# (docs/performance.md, "At start-up"; `nox -s bench-startup`).
import sys as _sys
import typing as _typing

from . import _options
from ._options import ContentMode
from ._version import __version__

if _typing.TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry._logs import LoggerProvider
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

    from ._hooks import RequestHook, RequestInfo, ResponseHook, ResponseInfo
    from ._otel_instrumentor import AIGatewayInstrumentor
    from ._scope import attributes, enrich
else:
    _LAZY = {
        "AIGatewayInstrumentor": "_otel_instrumentor",
        "RequestInfo": "_hooks",
        "ResponseInfo": "_hooks",
        "attributes": "_scope",
        "enrich": "_scope",
    }

    def __getattr__(name: str) -> object:
        # Hidden from type checkers (they see the imports above), so a misspelt attribute stays an error there.
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later lookups are plain module attributes
        return value

    def __dir__() -> "list[str]":
        return sorted(set(globals()) | set(__all__))


__all__ = [
    "AIGatewayInstrumentor",
    "ContentMode",
    "RequestInfo",
    "ResponseInfo",
    "__version__",
    "attributes",
    "enrich",
    "instrument",
    "uninstrument",
]


def instrument(
    *,
    tracer_provider: "TracerProvider | None" = None,
    meter_provider: "MeterProvider | None" = None,
    logger_provider: "LoggerProvider | None" = None,
    capture_content: "ContentMode | str | bool | None" = None,
    emit_event: "bool | None" = None,
    content_max_length: "int | None" = None,
    time_per_output_chunk: "bool | None" = None,
    stream_usage: "bool | None" = None,
    metrics_under_genai_spans: "bool | None" = None,
    propagate: "bool | None" = None,
    inject_hosts: "str | Iterable[str] | None" = None,
    gateway: "str | Iterable[str] | None" = None,
    response_headers: "str | Iterable[str] | None" = None,
    traceresponse: "bool | None" = None,
    session_baggage: "bool | None" = None,
    session_headers: "str | Iterable[str] | None" = None,
    request_hook: "RequestHook | None" = None,
    response_hook: "ResponseHook | None" = None,
) -> None:
    """Instrument the ``openai`` and ``anthropic`` SDKs (installed now or imported later).

    Providers default to the global ones. Each option left ``None`` comes from its environment variable, else its
    default (docs/configuration.md has the accepted values). A value of the wrong type raises ``TypeError``, a
    wrong value ``ValueError``, both naming the option and what it accepts.

    A call while already instrumented changes nothing; if it asks for other options than the active ones, one
    warning names them (``uninstrument()`` first to change options).
    """
    options = dict(locals())  # every parameter, by name (the options table says which), before any other local
    from ._instrumentor import instrument as switch_on

    switch_on(**options)


instrument.__doc__ = f"{(instrument.__doc__ or '').rstrip()}\n\n    Options:\n\n{_options.docstring()}\n"


def uninstrument() -> None:
    """Undo :func:`instrument`; safe to call when not instrumented."""
    state = _sys.modules.get(f"{__name__}._instrumentor")
    if state is not None:  # else never instrumented in this process: nothing to undo, nothing worth importing
        state.uninstrument()
