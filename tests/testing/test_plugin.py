"""The pytest plugin as a user's project meets it: marker mistakes are one line, fixture types are public."""

from __future__ import annotations

import textwrap

import openai
import pytest

import aigw_trace.testing
from aigw_trace.testing import InMemoryTelemetry, JoinedTrace, LoopbackGateway
from aigw_trace.testing.pytest_plugin import accepted_options

from .inner_pytest import run_project

MARKER_MISTAKES = """
    import pytest


    @pytest.mark.aigw_options(capture_contnet="span_only")
    def test_typo(aigw_telemetry):
        raise AssertionError("not reached")


    @pytest.mark.aigw_options("span_only")
    def test_positional(aigw_telemetry):
        raise AssertionError("not reached")


    @pytest.mark.aigw_options(request_hook=42)
    def test_bad_value(aigw_telemetry):
        raise AssertionError("not reached")


    @pytest.mark.aigw_options(capture_content="span_only")
    def test_good(aigw_telemetry):
        assert aigw_telemetry.genai_spans() == []
"""


def test_marker_mistakes_are_one_line_each_naming_the_bad_key_and_the_accepted_ones(tmp_path):
    outcomes = run_project(tmp_path, {"test_user_project": textwrap.dedent(MARKER_MISTAKES)})
    assert {name: o.outcome for name, o in outcomes.items()} == {
        "test_typo": "error",
        "test_positional": "error",
        "test_bad_value": "error",
        "test_good": "passed",
    }
    # The report pytest prints for each is the message alone: no traceback, no fixture request, no environment.
    accepted = ", ".join(accepted_options())
    assert outcomes["test_typo"].report == (
        f"@pytest.mark.aigw_options: unknown option(s) capture_contnet; accepted: {accepted}"
    )
    assert outcomes["test_positional"].report == (
        "@pytest.mark.aigw_options takes options by name only, e.g. capture_content='span_only'"
    )
    bad_value = outcomes["test_bad_value"].report
    assert bad_value.startswith("@pytest.mark.aigw_options: ")
    assert "request_hook" in bad_value
    assert "\n" not in bad_value  # not chained to the exception it reports


def test_accepted_options_are_instruments_options():
    accepted = accepted_options()
    assert {"capture_content", "propagate", "gateway", "request_hook"} <= set(accepted)
    assert not {"tracer_provider", "meter_provider", "logger_provider"} & set(accepted)
    assert list(accepted) == sorted(accepted)


def test_fixture_types_are_public_for_annotations(
    aigw_telemetry: InMemoryTelemetry, aigw_gateway: LoopbackGateway
) -> None:
    assert type(aigw_telemetry) is InMemoryTelemetry
    assert type(aigw_gateway) is LoopbackGateway
    client = openai.OpenAI(base_url=aigw_gateway.openai_base_url, api_key="test", max_retries=0)
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    (joined,) = aigw_telemetry.joined()
    assert type(joined) is JoinedTrace
    assert joined.client is aigw_telemetry.span()
    assert [s.parent.span_id for s in joined.gateway] == [joined.client.context.span_id]
    assert joined.trace_id == joined.client.context.trace_id
    assert format(joined.trace_id, "032x") == aigw_gateway.last_request.trace_id


def test_the_public_surface_is_exactly_all():
    assert set(aigw_trace.testing.__all__) == {
        "Fault",
        "InMemoryTelemetry",
        "JoinedTrace",
        "LoopbackGateway",
        "RecordedRequest",
        "TokenUsage",
    }
    assert dir(aigw_trace.testing) == list(aigw_trace.testing.__all__)
    for name in aigw_trace.testing.__all__:
        assert getattr(aigw_trace.testing, name).__name__ == name
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = aigw_trace.testing.Nope
