"""pytest plugin (entry point ``pytest11``): fixtures to test LLM code's telemetry offline.

Fixtures are prefixed ``aigw_`` so they never clash with a project's own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._in_memory import InMemoryTelemetry
from ._loopback import LoopbackGateway


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


@pytest.fixture
def aigw_gateway(request: pytest.FixtureRequest) -> Iterator[LoopbackGateway]:
    """A started :class:`~aigw_trace.testing.LoopbackGateway` on 127.0.0.1 for the test.

    Point SDK clients at ``aigw_gateway.openai_base_url`` / ``aigw_gateway.anthropic_base_url``. When the test also
    uses ``aigw_telemetry``, the gateway (service ``ai-gateway``) and its simulated provider (``llm-provider``)
    record into the same in-memory spans, so ``aigw_telemetry.assert_joined()`` can check the whole trace.
    """
    if "aigw_telemetry" in request.fixturenames:
        telemetry: InMemoryTelemetry = request.getfixturevalue("aigw_telemetry")
        gateway = LoopbackGateway(
            tracer_provider=telemetry.tracer_provider_for("ai-gateway"),
            upstream_tracer_provider=telemetry.tracer_provider_for("llm-provider"),
        )
    else:
        gateway = LoopbackGateway()
    with gateway:
        yield gateway
