"""Bounded content serialisation keeps valid JSON and the newest messages."""

from __future__ import annotations

import json

from aigw_trace._content import bounded_json


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
