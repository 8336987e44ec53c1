"""Settings resolution: options beat environment variables, which beat defaults; bad values degrade safely."""

from __future__ import annotations

import logging

import pytest

from aigw_trace._config import ContentMode, Settings

ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def parse_content_mode(value: object) -> ContentMode:
    """The mode a value means: a string as the environment variable, anything else as the keyword."""
    if isinstance(value, str):
        return Settings.resolve({}, env={ENV: value}).content
    return Settings.resolve({"capture_content": value}, env={}).content


def test_defaults_capture_nothing_and_propagate():
    s = Settings.resolve({}, env={})
    assert s.content is ContentMode.NO_CONTENT
    assert s.emit_event is False
    assert s.propagate is True
    assert s.time_per_output_chunk is False


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("NO_CONTENT", ContentMode.NO_CONTENT),
        ("span_only", ContentMode.SPAN_ONLY),
        ("Event_Only", ContentMode.EVENT_ONLY),
        ("SPAN_AND_EVENT", ContentMode.SPAN_AND_EVENT),
        ("true", ContentMode.SPAN_ONLY),
        ("FALSE", ContentMode.NO_CONTENT),
        (True, ContentMode.SPAN_ONLY),
        (False, ContentMode.NO_CONTENT),
        (ContentMode.EVENT_ONLY, ContentMode.EVENT_ONLY),
    ],
)
def test_content_modes(value, mode):
    assert parse_content_mode(value) is mode


def test_unknown_mode_warns_and_captures_nothing(caplog):
    caplog.set_level(logging.WARNING)
    assert parse_content_mode("everything") is ContentMode.NO_CONTENT
    assert "unknown content capture mode" in caplog.text


def test_event_modes_turn_events_on_unless_told_otherwise():
    assert Settings.resolve({}, env={ENV: "EVENT_ONLY"}).emit_event is True
    assert Settings.resolve({}, env={ENV: "SPAN_ONLY"}).emit_event is False
    env = {ENV: "SPAN_AND_EVENT", "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT": "false"}
    assert Settings.resolve({}, env=env).emit_event is False


def test_options_override_the_environment():
    env = {ENV: "SPAN_ONLY", "AIGW_TRACE_PROPAGATE": "false", "AIGW_TRACE_TIME_PER_OUTPUT_CHUNK": "true"}
    s = Settings.resolve({"capture_content": False, "propagate": True, "time_per_output_chunk": False}, env=env)
    assert s.content is ContentMode.NO_CONTENT
    assert s.propagate is True
    assert s.time_per_output_chunk is False
    from_env = Settings.resolve({}, env=env)
    assert (from_env.content, from_env.propagate, from_env.time_per_output_chunk) == (
        ContentMode.SPAN_ONLY,
        False,
        True,
    )


def test_bad_numbers_and_booleans_fall_back_with_a_warning(caplog):
    caplog.set_level(logging.WARNING)
    s = Settings.resolve({}, env={"AIGW_TRACE_CONTENT_MAX_LENGTH": "-3", "AIGW_TRACE_PROPAGATE": "maybe"})
    assert s.content_max_length == 65536
    assert s.propagate is True
    assert "AIGW_TRACE_CONTENT_MAX_LENGTH" in caplog.text
    assert "AIGW_TRACE_PROPAGATE" in caplog.text


def test_misspelt_option_is_refused():
    with pytest.raises(TypeError, match="capture_contents"):
        Settings.resolve({"capture_contents": True}, env={})
