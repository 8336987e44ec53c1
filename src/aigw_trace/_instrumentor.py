"""``AIGatewayInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` that wires every provider module."""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from collections.abc import Collection
from typing import Any

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from ._config import instrumenting
from ._providers import PROVIDER_MODULES
from ._safety import report
from ._telemetry import Telemetry
from ._wrap import Instrumentation

_PROVIDER_KEYS = ("tracer_provider", "meter_provider", "logger_provider")


class AIGatewayInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` and ``anthropic`` SDKs, whichever are installed, now or when imported later.

    Registered as entry point ``aigw_trace`` in group ``opentelemetry_instrumentor`` so that
    ``opentelemetry-instrument python app.py`` picks it up. Options are the keyword arguments of
    :func:`aigw_trace.instrument`.
    """

    _lock = threading.Lock()

    def instrumentation_dependencies(self) -> Collection[str]:
        # Either SDK alone is enough, and BaseInstrumentor would refuse to run if any listed requirement were
        # missing; each provider checks for its own SDK instead.
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        settings = instrumenting(kwargs)
        tel = Telemetry(settings, *(kwargs.get(k) for k in _PROVIDER_KEYS))
        self._active: list[Instrumentation] = []
        for module_name in PROVIDER_MODULES:
            provider = importlib.import_module(module_name).PROVIDER
            inst = Instrumentation(provider, tel)
            self._active.append(inst)
            if provider.package in sys.modules:
                self._install(inst)
            else:
                # The SDK may be imported after instrument(); patch it then.
                wrapt.register_post_import_hook(functools.partial(self._install_on_import, inst), provider.package)

    def _install_on_import(self, inst: Instrumentation, _module: object) -> None:
        self._install(inst)

    def _install(self, inst: Instrumentation) -> None:
        with self._lock:
            if inst not in getattr(self, "_active", ()) or inst.installed:
                return
            try:
                inst.install()
            except Exception as exc:
                report(f"instrumenting {inst.provider.package}", exc)
                inst.uninstall()

    def _uninstrument(self, **kwargs: Any) -> None:
        with self._lock:
            for inst in getattr(self, "_active", ()):
                inst.uninstall()
            self._active = []
