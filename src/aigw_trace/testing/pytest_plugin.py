"""pytest plugin (entry point ``pytest11``): fixtures to test LLM code's telemetry offline.

Fixtures are prefixed ``aigw_`` so they never clash with a project's own. pytest loads this plugin in every project
where aigw-trace is installed, including installs with ``opentelemetry-api`` only: so nothing here imports the
OpenTelemetry SDK until a test asks for ``aigw_telemetry``.
"""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from ._loopback import LoopbackGateway

if TYPE_CHECKING:
    from ._in_memory import InMemoryTelemetry

_MARKER = "aigw_options"
_PROVIDERS = frozenset({"tracer_provider", "meter_provider", "logger_provider"})
"""``instrument()`` parameters the fixture sets itself."""
SDK_MISSING = (
    "aigw_telemetry needs the OpenTelemetry SDK, which is not installed: pip install 'aigw-trace[sdk]' "
    "(or opentelemetry-sdk)"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}(**options): aigw_trace.instrument() options for the aigw_telemetry fixture",
    )


def accepted_options() -> tuple[str, ...]:
    """The option names ``aigw_trace.instrument()`` accepts, from its signature (which the options table makes)."""
    import aigw_trace

    params = inspect.signature(aigw_trace.instrument).parameters.values()
    return tuple(sorted(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in _PROVIDERS))


def _marker_options(request: pytest.FixtureRequest) -> dict[str, object]:
    marker = request.node.get_closest_marker(_MARKER)
    if marker is None:
        return {}
    where = f"@pytest.mark.{_MARKER}"
    if marker.args:
        pytest.fail(f"{where} takes options by name only, e.g. capture_content='span_only'", pytrace=False)
    accepted = accepted_options()
    unknown = sorted(set(marker.kwargs) - set(accepted)) if accepted else []
    if unknown:
        pytest.fail(f"{where}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(accepted)}", pytrace=False)
    return dict(marker.kwargs)


@pytest.fixture
def aigw_telemetry(request: pytest.FixtureRequest) -> Iterator[InMemoryTelemetry]:
    """In-memory tracer/meter/logger providers with aigw-trace instrumented against them for the test.

    Options for :func:`aigw_trace.instrument` come from ``@pytest.mark.aigw_options(...)``; call
    ``aigw_telemetry.instrument(**options)`` inside a test to change them. Needs ``aigw-trace[sdk]``.
    """
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        pytest.fail(SDK_MISSING, pytrace=False)
    options = _marker_options(request)
    from ._in_memory import InMemoryTelemetry

    telemetry = InMemoryTelemetry()
    problem = None
    try:
        telemetry.instrument(**options)
    except (TypeError, ValueError) as exc:  # a bad option value: one line, not a traceback through the plugin
        problem = str(exc)
    if problem is not None:  # failed outside the except block, so pytest shows no chained exception
        telemetry.close()
        pytest.fail(f"@pytest.mark.{_MARKER}: {problem}", pytrace=False)
    try:
        yield telemetry
    finally:
        telemetry.close()


@pytest.fixture
def aigw_gateway(request: pytest.FixtureRequest) -> Iterator[LoopbackGateway]:
    """A started :class:`~aigw_trace.testing.LoopbackGateway` on 127.0.0.1 for the test (needs only the OTel API).

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
