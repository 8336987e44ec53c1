"""Switching the instrumentation on and off: the process's one state, shared by :func:`aigw_trace.instrument` and
``AIGatewayInstrumentor`` (``_otel_instrumentor``, the ``BaseInstrumentor`` that ``opentelemetry-instrument`` loads).

``aigw_trace.instrument()`` comes here without importing ``BaseInstrumentor``, whose module brings ``packaging``
and most of opentelemetry-instrumentation (about half of what start-up would cost otherwise; docs/performance.md).
Its dependency check is settled here when that is cheap: no SDK installed, or an SDK already imported whose
``__version__`` is a plain release inside its supported range (the usual application, which imports its SDK first).
Any other case goes through ``AIGatewayInstrumentor().instrument()``, so what is checked, logged and raised there
stays ``BaseInstrumentor``'s own. (The short way also skips ``BaseInstrumentor``'s opt-in read of
``OTEL_SEMCONV_STABILITY_OPT_IN``, which concerns HTTP and database conventions: every instrumentation that uses
it reads it in its own ``BaseInstrumentor.instrument()``.)
"""

from __future__ import annotations

import functools
import operator
import sys
import threading
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from ._config import instrumenting, warn_if_different
from ._providers import providers
from ._safety import log, report
from ._telemetry import Telemetry
from ._wrap import Instrumentation

if TYPE_CHECKING:
    from opentelemetry.instrumentation.dependencies import DependencyConflict

    from ._providers._spec import Provider

_PROVIDER_KEYS = ("tracer_provider", "meter_provider", "logger_provider")
_BASE_INSTRUMENTOR_KEYS = ("skip_dep_check", "raise_exception_on_conflict")
"""Keywords BaseInstrumentor.instrument() takes for itself (opentelemetry-instrument passes them)."""

_lock = threading.Lock()
_active: list[Instrumentation] = []
_on = False


def is_instrumented() -> bool:
    return _on


def instrument(**kwargs: Any) -> None:
    """``aigw_trace.instrument()``: what ``AIGatewayInstrumentor().instrument()`` does, by the shortest way."""
    if _on:
        warn_if_different({k: v for k, v in kwargs.items() if k not in _BASE_INSTRUMENTOR_KEYS})
        return
    if not (kwargs.get("skip_dep_check") or _no_conflict_at_a_glance()):
        from ._otel_instrumentor import AIGatewayInstrumentor

        AIGatewayInstrumentor().instrument(**kwargs)
        return
    activate({k: v for k, v in kwargs.items() if k not in _BASE_INSTRUMENTOR_KEYS})


def uninstrument() -> None:
    if _on:  # safe to call at any time, and silent when there is nothing to undo
        deactivate()


def dependencies() -> tuple[str, ...]:
    """The SDK releases traced, one requirement per SDK (also the package's ``instruments-any`` metadata)."""
    return tuple(provider.supported for provider in providers())


def dependency_conflict() -> DependencyConflict | None:
    # Either SDK alone is enough: the requirements are alternatives (as `instruments-any` says to
    # opentelemetry-instrument), not all required. A provider whose release is out of range is skipped with
    # one line when its SDK is imported. With neither installed there is no conflict yet: an SDK imported
    # later is patched then, and a library that installs aigw-trace without an SDK gets no error line.
    if not any(find_spec(provider.package) for provider in providers()):
        return None
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    return get_dependency_conflicts((), dependencies())


def _no_conflict_at_a_glance() -> bool:
    """True when :func:`dependency_conflict` would surely say None; False when only it can tell."""
    found = [p for p in providers() if find_spec(p.package)]
    return not found or any(_release_in_range(p) for p in found)


_COMPARE = {">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt}


def _release(text: str) -> tuple[int, ...] | None:
    """``"1.26.0"`` as ``(1, 26, 0)``; ``None`` for anything but dot-separated ASCII digits (no regular expression:
    compiling one costs more at ``instrument()`` than this whole check)."""
    parts = text.split(".")
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def _release_in_range(provider: Provider) -> bool | None:
    """Whether the imported SDK's ``__version__`` is inside ``provider.supported``, without ``packaging``.

    ``None`` (ask ``packaging``) unless the SDK is imported, its version is a plain release (no pre-, post- or dev
    part) and every bound is one of ``>= <= == > <`` on a plain release, which PEP 440 compares as zero-padded
    tuples. The SDKs' ``__version__`` is their distribution's version (both are generated from one release).
    """
    version = getattr(sys.modules.get(provider.package), "__version__", None)
    name, _, spec = provider.supported.partition(" ")
    have = _release(version) if isinstance(version, str) else None
    if have is None or name != provider.package:
        return None
    for clause in spec.split(","):
        clause = clause.strip()
        op = clause[:2] if clause[:2] in _COMPARE else clause[:1]
        bound = _release(clause[len(op) :].strip()) if op in _COMPARE else None
        if bound is None:
            return None
        width = max(len(have), len(bound))
        a, b = have + (0,) * (width - len(have)), bound + (0,) * (width - len(bound))
        if not _COMPARE[op](a, b):
            return False
    return True


def activate(kwargs: dict[str, Any]) -> None:
    """Patch every installed SDK now, and every other one when it is imported (the dependency check is done)."""
    global _on
    settings = instrumenting(kwargs)
    tel = Telemetry(settings, *(kwargs.get(k) for k in _PROVIDER_KEYS))
    with _lock:
        _active.clear()
    for provider in providers():
        inst = Instrumentation(provider, tel)
        with _lock:
            _active.append(inst)
        if provider.package in sys.modules:
            _install(inst)
        else:
            # The SDK may be imported after instrument(); patch it then. (wrapt is imported only here: its
            # import hooks bring asyncio and importlib.metadata, which an app that imported its SDK never needs.)
            import wrapt

            wrapt.register_post_import_hook(functools.partial(_install_on_import, inst), provider.package)
    _on = True


def deactivate() -> None:
    global _on
    with _lock:
        for inst in _active:
            inst.uninstall()
        _active.clear()
        _on = False


def _install_on_import(inst: Instrumentation, _module: object) -> None:
    _install(inst)


def _install(inst: Instrumentation) -> None:
    with _lock:
        if inst not in _active or inst.installed:
            return
        if not _release_in_range(inst.provider):
            problem = inst.provider.version_problem()
            if problem is not None:
                log.warning(problem)
                return
        try:
            inst.install()
        except Exception as exc:
            report(f"instrumenting {inst.provider.package}", exc)
            inst.uninstall()
