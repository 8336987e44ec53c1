"""Reliability suite: a small, deterministic profile in the README's ``nox -s tests``; the full one (≥ 1,000
examples per family, the soak) with ``AIGW_RELIABILITY=1``, as ``nox -s reliability`` sets it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.reliability.harness import Ledger, counting_ends

FULL = os.environ.get("AIGW_RELIABILITY") == "1"

_HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile(
    "aigw-readme", max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=_HEALTH
)
settings.register_profile(
    "aigw-reliability", max_examples=1000, deadline=None, database=None, suppress_health_check=_HEALTH,
    print_blob=True,
)  # fmt: skip
settings.load_profile("aigw-reliability" if FULL else "aigw-readme")

full_only = pytest.mark.skipif(not FULL, reason="soak: only in `nox -s reliability` (AIGW_RELIABILITY=1)")


@pytest.fixture
def ledger(aigw_telemetry: Any) -> Iterator[Ledger]:
    """Span starts and end() calls of the aigw_trace scope, for the test's in-memory telemetry."""
    book = Ledger()
    aigw_telemetry.tracer_provider.add_span_processor(book)
    with counting_ends(book):
        yield book


def pytest_configure(config: pytest.Config) -> None:
    n = os.environ.get("AIGW_EXAMPLES")
    if n:  # a one-off deeper run of the small profile: AIGW_EXAMPLES=300 pytest tests/reliability
        settings.register_profile("aigw-custom", settings.get_profile("aigw-readme"), max_examples=int(n))
        settings.load_profile("aigw-custom")
