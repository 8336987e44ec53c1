"""Bounded content serialisation keeps valid JSON and the newest messages."""

from __future__ import annotations

import json
import random

import pytest

from aigw_trace._content import bounded_json, dumps
from aigw_trace._options import MIN_CONTENT_MAX_LENGTH


def test_small_content_is_compact_json_unchanged():
    text, cut = bounded_json([{"role": "user", "parts": [{"type": "text", "content": "héllo"}]}], 1000)
    assert text == '[{"role":"user","parts":[{"type":"text","content":"héllo"}]}]'
    assert cut is False


def test_long_strings_are_shortened_before_messages_are_dropped():
    items = [{"role": "user", "parts": [{"type": "text", "content": "a" * 10_000}]},
             {"role": "user", "parts": [{"type": "text", "content": "short"}]}]  # fmt: skip
    text, cut = bounded_json(items, 2000)
    assert cut is True
    assert len(text) <= 2000
    decoded = json.loads(text)
    assert len(decoded) == 2
    assert decoded[0]["parts"][0]["content"].endswith("…[truncated]")
    assert decoded[1]["parts"][0]["content"] == "short"


def test_oldest_messages_go_first_when_shortening_is_not_enough():
    items = [{"role": "user", "parts": [{"type": "text", "content": str(i) * 50}]} for i in range(100)]
    text, cut = bounded_json(items, 500)
    assert cut is True
    decoded = json.loads(text)
    assert decoded[-1]["parts"][0]["content"].startswith("99")
    assert len(text) <= 500


def test_unserialisable_values_do_not_raise():
    class Odd:
        def __str__(self) -> str:
            return "odd"

    text, _ = bounded_json([{"x": Odd()}], 100)
    assert json.loads(text) == [{"x": "odd"}]


def test_the_newest_message_alone_is_shortened_further_before_giving_up():
    parts = [{"type": "text", "content": chr(97 + i) * 1000} for i in range(10)]
    text, cut = bounded_json([{"role": "user", "parts": parts}], 600)
    assert cut is True
    assert len(text) <= 600
    (message,) = json.loads(text)
    assert message["role"] == "user"  # still the message, not only a marker
    assert [p["content"][0] for p in message["parts"]] == list("abcdefghij")


def test_short_strings_are_never_lengthened_by_the_marker():
    items = [{"role": "assistant", "parts": [{"type": "text", "content": "x" * 5000}]}]
    decoded = json.loads(bounded_json(items, 100)[0])
    assert decoded[0]["role"] == "assistant"
    assert decoded[0]["parts"][0]["type"] == "text"


def test_when_nothing_fits_a_marker_within_the_smallest_limit():
    items = [{"k" * 500: "v"}]  # keys are never shortened
    text, cut = bounded_json(items, MIN_CONTENT_MAX_LENGTH)
    assert cut is True
    assert len(text) <= MIN_CONTENT_MAX_LENGTH
    assert json.loads(text) == [{"type": "text", "content": "…[truncated]"}]


@pytest.mark.parametrize("limit", [MIN_CONTENT_MAX_LENGTH, 65, 100, 257, 1000, 4096])
def test_any_content_is_valid_json_within_the_limit(limit):
    rng = random.Random(limit)  # deterministic: the same shapes on every run
    for _ in range(200):
        items = [
            {
                "role": rng.choice(["user", "assistant", "tool"]),
                "parts": [
                    rng.choice(
                        [
                            {"type": "text", "content": "é" * rng.randint(0, 3000)},
                            {"type": "tool_call", "id": "c" * rng.randint(0, 40), "arguments": {"q": "q" * 900}},
                            {"type": "blob", "content": "A" * rng.randint(0, 5000), "mime_type": "image/png"},
                        ]
                    )
                    for _ in range(rng.randint(0, 12))
                ],
            }
            for _ in range(rng.randint(0, 6))
        ]
        text, cut = bounded_json(items, limit)
        assert len(text) <= limit
        assert isinstance(json.loads(text), list)
        assert cut is (text != dumps(items))
