"""``AIGatewayInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` that wires every provider module."""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Collection
from importlib.util import find_spec
from typing import Any

import wrapt
from opentelemetry.instrumentation.dependencies import DependencyConflict, get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from ._config import instrumenting, warn_if_different
from ._providers import providers
from ._safety import log, report
from ._telemetry import Telemetry
from ._wrap import Instrumentation

_PROVIDER_KEYS = ("tracer_provider", "meter_provider", "logger_provider")
_BASE_INSTRUMENTOR_KEYS = ("skip_dep_check", "raise_exception_on_conflict")
"""Keywords BaseInstrumentor.instrument() takes for itself (opentelemetry-instrument passes them)."""


class AIGatewayInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` and ``anthropic`` SDKs, whichever are installed, now or when imported later.

    Registered as entry point ``aigw_trace`` in group ``opentelemetry_instrumentor`` so that
    ``opentelemetry-instrument python app.py`` picks it up. Options are the keyword arguments of
    :func:`aigw_trace.instrument`.
    """

    _lock = threading.Lock()

    def instrumentation_dependencies(self) -> Collection[str]:
        """The SDK releases traced, one requirement per SDK (also the package's ``instruments-any`` metadata)."""
        return tuple(provider.supported for provider in providers())

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        # Either SDK alone is enough: the requirements are alternatives (as `instruments-any` says to
        # opentelemetry-instrument), not all required. A provider whose release is out of range is skipped with
        # one line when its SDK is imported. With neither installed there is no conflict yet: an SDK imported
        # later is patched then, and a library that installs aigw-trace without an SDK gets no error line.
        if not any(find_spec(provider.package) for provider in providers()):
            return None
        return get_dependency_conflicts((), self.instrumentation_dependencies())

    def instrument(self, **kwargs: Any) -> None:
        if self.is_instrumented_by_opentelemetry:
            # BaseInstrumentor would only say "already instrumented": name the options this call asked for in vain.
            warn_if_different({k: v for k, v in kwargs.items() if k not in _BASE_INSTRUMENTOR_KEYS})
            return
        super().instrument(**kwargs)

    def uninstrument(self, **kwargs: Any) -> None:
        if self.is_instrumented_by_opentelemetry:  # safe to call at any time, and silent when there is nothing to undo
            super().uninstrument(**kwargs)

    def _instrument(self, **kwargs: Any) -> None:
        settings = instrumenting(kwargs)
        tel = Telemetry(settings, *(kwargs.get(k) for k in _PROVIDER_KEYS))
        self._active: list[Instrumentation] = []
        for provider in providers():
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
            problem = inst.provider.version_problem()
            if problem is not None:
                log.warning(problem)
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
