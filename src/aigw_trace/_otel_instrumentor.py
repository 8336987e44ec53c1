"""``AIGatewayInstrumentor``: the OpenTelemetry ``BaseInstrumentor`` over the one state in ``_instrumentor``.

Imported on first use (``aigw_trace.AIGatewayInstrumentor``, the ``opentelemetry_instrumentor`` entry point, or a
dependency check only ``BaseInstrumentor`` can settle), because its base class's module imports ``packaging`` and
most of opentelemetry-instrumentation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from . import _instrumentor as _state
from ._config import warn_if_different

if TYPE_CHECKING:
    from opentelemetry.instrumentation.dependencies import DependencyConflict


class AIGatewayInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Instruments the ``openai`` and ``anthropic`` SDKs, whichever are installed, now or when imported later.

    Registered as entry point ``aigw_trace`` in group ``opentelemetry_instrumentor`` so that
    ``opentelemetry-instrument python app.py`` picks it up. Options are the keyword arguments of
    :func:`aigw_trace.instrument`, which shares its state: either one sees what the other did.
    """

    @property
    def _is_instrumented_by_opentelemetry(self) -> bool:
        return _state.is_instrumented()

    @_is_instrumented_by_opentelemetry.setter
    def _is_instrumented_by_opentelemetry(self, _value: bool) -> None:
        # BaseInstrumentor writes the flag after _instrument/_uninstrument, which have already set the shared state.
        pass

    def instrumentation_dependencies(self) -> Collection[str]:
        """The SDK releases traced, one requirement per SDK (also the package's ``instruments-any`` metadata)."""
        return _state.dependencies()

    def _check_dependency_conflicts(self) -> DependencyConflict | None:
        return _state.dependency_conflict()

    def instrument(self, **kwargs: Any) -> None:
        if self.is_instrumented_by_opentelemetry:
            # BaseInstrumentor would only say "already instrumented": name the options this call asked for in vain.
            warn_if_different({k: v for k, v in kwargs.items() if k not in _state._BASE_INSTRUMENTOR_KEYS})
            return
        super().instrument(**kwargs)

    def uninstrument(self, **kwargs: Any) -> None:
        _state.uninstrument()

    def _instrument(self, **kwargs: Any) -> None:
        _state.activate(kwargs)

    def _uninstrument(self, **kwargs: Any) -> None:
        _state.deactivate()
