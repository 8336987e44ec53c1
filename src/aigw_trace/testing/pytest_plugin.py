"""pytest plugin (entry point ``pytest11``): fixtures to test LLM code's telemetry offline.

Fixtures are prefixed ``aigw_`` so they never clash with a project's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._telemetry import InMemoryTelemetry


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "aigw_options(**options): aigw_trace.instrument() options for the aigw_telemetry fixture",
    )


@pytest.fixture
def aigw_telemetry(request: pytest.FixtureRequest) -> Iterator[InMemoryTelemetry]:
    """In-memory tracer/meter/logger providers with aigw-trace instrumented against them for the test.

    Options for :func:`aigw_trace.instrument` come from ``@pytest.mark.aigw_options(...)``; call
    ``aigw_telemetry.instrument(**options)`` inside a test to change them.
    """
    marker = request.node.get_closest_marker("aigw_options")
    telemetry = InMemoryTelemetry()
    telemetry.instrument(**(marker.kwargs if marker else {}))
    try:
        yield telemetry
    finally:
        telemetry.close()
