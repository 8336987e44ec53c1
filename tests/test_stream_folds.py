"""The stream folds' fast paths (one content choice per OpenAI chunk; the event type read once per Anthropic event)
and the shapes that must leave them: a chunk without choices, a usage-only chunk, usage on the finishing chunk,
tool-call deltas, a refusal, several choices per chunk, each Anthropic event type.

Each case is one response rendered twice, as the API would, as in ``test_stream_parity``: the streamed call must
record what the plain call records (apart from what only a stream has), with and without content capture, and hand
the caller every chunk unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import FakeAPI, Reply
from tests.test_stream_parity import STREAM_ONLY, _anthropic_client, _openai_client

COMMON = {"id": "chatcmpl-f", "created": 1, "model": "gpt-4o-2024-08-06", "service_tier": "default",
          "system_fingerprint": "fp_f"}  # fmt: skip
USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}


def chunk(choices: list[Any], **extra: Any) -> dict[str, Any]:
    return {**COMMON, "object": "chat.completion.chunk", "choices": choices, **extra}


def delta(index: int, finish: str | None = None, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish}


def plain(*choices: dict[str, Any], usage: dict[str, Any] | None = USAGE) -> dict[str, Any]:
    return {**COMMON, "object": "chat.completion", "choices": list(choices), "usage": usage}


def message(index: int, finish: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "message": {"role": "assistant", **fields}, "finish_reason": finish}


# --- OpenAI chat: one response, two renderings ---


def content_with_usage_chunk() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The usual stream: content chunks (the fast path), a finishing chunk, a usage-only chunk."""
    return plain(message(0, "stop", content="hello there")), [
        chunk([delta(0, role="assistant", content="")]),
        chunk([delta(0, content="hello")]),
        chunk([delta(0, content=" there")]),
        chunk([delta(0, "stop")]),
        chunk([], usage=USAGE),
    ]


def keepalive_and_usage_on_finish() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A gateway's chunk without choices or usage mid-stream, and usage on the finishing chunk (no usage chunk)."""
    return plain(message(0, "length", content="ab")), [
        chunk([delta(0, role="assistant", content="a")]),
        chunk([]),
        chunk([delta(0, content="b")]),
        chunk([delta(0, "length")], usage=USAGE),
    ]


def finishing_chunk_with_content() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The one choice finishes in a chunk that also carries content: the fast path must not swallow it."""
    return plain(message(0, "stop", content="xy"), usage=None), [
        chunk([delta(0, role="assistant", content="x")]),
        chunk([delta(0, "stop", content="y")]),
    ]


def tool_call_deltas() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    call = {"id": "call_7", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
    start = {"index": 0, "id": "call_7", "type": "function", "function": {"name": "weather", "arguments": ""}}
    return plain(message(0, "tool_calls", content=None, tool_calls=[call])), [
        chunk([delta(0, role="assistant", content=None, tool_calls=[start])]),
        chunk([delta(0, tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}])]),
        chunk([delta(0, tool_calls=[{"index": 0, "function": {"arguments": '"Oslo"}'}}])]),
        chunk([delta(0, "tool_calls")]),
        chunk([], usage=USAGE),
    ]


def refusal() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return plain(message(0, "stop", content=None, refusal="I can't help with that.")), [
        chunk([delta(0, role="assistant", content=None, refusal="")]),
        chunk([delta(0, refusal="I can't ")]),
        chunk([delta(0, refusal="help with that.")]),
        chunk([delta(0, "stop")]),
        chunk([], usage=USAGE),
    ]


def several_choices_per_chunk() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Several choices in one chunk: the second finishes beside the first's content (the first choice alone must not
    decide the chunk), then the first and a third finish together."""
    return plain(message(0, "stop", content="abe"), message(1, "length", content="cd"),
                 message(2, "stop", content="f")), [
        chunk([delta(0, role="assistant", content="a"), delta(1, role="assistant", content="c")]),
        chunk([delta(0, content="b"), delta(1, "length", content="d")]),
        chunk([delta(0, "stop", content="e"), delta(2, "stop", role="assistant", content="f")]),
        chunk([], usage=USAGE),
    ]  # fmt: skip


def choices_finishing_apart() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``n=2`` one choice per chunk, the second finishing first: each finish is a single-choice chunk."""
    return plain(message(0, "stop", content="a"), message(1, "content_filter", content="b")), [
        chunk([delta(0, role="assistant", content="a")]),
        chunk([delta(1, role="assistant", content="b")]),
        chunk([delta(1, "content_filter")]),
        chunk([delta(0, "stop")]),
        chunk([], usage=USAGE),
    ]


CHAT_CASES: list[Callable[[], tuple[dict[str, Any], list[dict[str, Any]]]]] = [
    content_with_usage_chunk,
    keepalive_and_usage_on_finish,
    finishing_chunk_with_content,
    tool_call_deltas,
    refusal,
    several_choices_per_chunk,
    choices_finishing_apart,
]


def _chat(telemetry: Any, reply: Reply, stream: bool) -> tuple[dict[str, Any], list[Any]]:
    api = FakeAPI()
    api.reply(reply)
    before = len(telemetry.spans())
    kw: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    result = _openai_client(api).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}],
                                                         **kw)  # fmt: skip
    items = [item.model_dump(exclude_unset=True) for item in result] if stream else []
    (span,) = telemetry.spans()[before:]
    return dict(span.attributes), items


@pytest.mark.parametrize("capture", ["no_content", "span_only"])
@pytest.mark.parametrize("case", CHAT_CASES, ids=[c.__name__ for c in CHAT_CASES])
def test_chat_stream_fold_records_what_the_plain_call_records(aigw_telemetry, case, capture):
    aigw_telemetry.instrument(capture_content=capture)
    body, chunks = case()
    plain_attrs, _ = _chat(aigw_telemetry, Reply(json=body), stream=False)
    streamed, items = _chat(aigw_telemetry, Reply(chunks=sse(chunks)), stream=True)

    assert {k: v for k, v in streamed.items() if k not in STREAM_ONLY} == plain_attrs
    assert streamed[A.AIGW_STREAM_OUTCOME] == "completed"
    assert A.RESPONSE_FINISH_REASONS in plain_attrs  # not vacuous
    if capture == "span_only":
        assert A.OUTPUT_MESSAGES in plain_attrs
    # The caller got every chunk, as sent.
    assert items == [{k: v for k, v in c.items()} for c in chunks]


def test_an_empty_finish_reason_is_no_reason(aigw_telemetry):
    # Found by the reliability suite's fold property: a choice of its own index whose chunk says
    # ``"finish_reason": ""`` (some OpenAI-compatible servers send "" rather than null) recorded a reason "".
    chunks = [
        chunk([delta(0, role="assistant", content="a")]),
        chunk([delta(2**63, "", content="b")]),
        chunk([delta(0, "stop")]),
        chunk([], usage=USAGE),
    ]
    streamed, _ = _chat(aigw_telemetry, Reply(chunks=sse(chunks)), stream=True)
    assert streamed[A.RESPONSE_FINISH_REASONS] == ("stop",)
    body = plain(message(0, "stop", content="a"), message(1, "", content="b"))
    plain_attrs, _ = _chat(aigw_telemetry, Reply(json=body), stream=False)
    assert plain_attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)


def test_chat_chunk_of_an_odd_shape_leaves_the_fast_path(aigw_telemetry):
    """Choices that are not a list of models (a gateway's null, a choice without an index) take the general path,
    whose defaults keep what can be kept."""
    aigw_telemetry.instrument()
    chunks = [
        chunk([delta(0, role="assistant", content="a")]),
        {**chunk([]), "choices": None},
        chunk([{"delta": {"content": "b"}, "finish_reason": "stop"}]),  # no index: the first choice
        chunk([], usage=USAGE),
    ]
    attrs, items = _chat(aigw_telemetry, Reply(chunks=sse(chunks)), stream=True)
    assert attrs[A.RESPONSE_FINISH_REASONS] == ("stop",)
    assert attrs[A.USAGE_INPUT_TOKENS] == 12
    assert attrs[A.USAGE_OUTPUT_TOKENS] == 4
    assert attrs[A.RESPONSE_ID] == "chatcmpl-f"
    assert len(items) == 4


# --- Anthropic: every event type through the fold ---

MESSAGE = {"id": "msg_f", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
           "stop_sequence": None}  # fmt: skip
MESSAGE_USAGE = {"input_tokens": 20, "output_tokens": 9, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 0,
                 "service_tier": "standard"}  # fmt: skip


def anthropic_events() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Thinking (with its signature), text, a tool use and a ping between them: every event type the API sends."""
    content = [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_f", "name": "weather", "input": {"city": "Oslo"}},
    ]
    body = {**MESSAGE, "content": content, "stop_reason": "tool_use", "usage": MESSAGE_USAGE}
    events: list[dict[str, Any]] = [
        {"type": "message_start",
         "message": {**MESSAGE, "content": [], "stop_reason": None, "usage": {**MESSAGE_USAGE, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "",
                                                                      "signature": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Checking."}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_f",
                                                                      "name": "weather", "input": {}}},
        {"type": "content_block_delta", "index": 2,
         "delta": {"type": "input_json_delta", "partial_json": '{"city": '}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '"Oslo"}'}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
         "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]  # fmt: skip
    return body, events


def _message(telemetry: Any, reply: Reply, stream: bool) -> tuple[dict[str, Any], list[str]]:
    api = FakeAPI()
    api.reply(reply)
    before = len(telemetry.spans())
    user = [{"role": "user", "content": "hi"}]
    result = _anthropic_client(api).messages.create(model="claude-haiku-4-5", max_tokens=64, messages=user,
                                                    stream=stream)  # fmt: skip
    kinds = [event.type for event in result] if stream else []
    (span,) = telemetry.spans()[before:]
    return dict(span.attributes), kinds


@pytest.mark.parametrize("capture", ["no_content", "span_only"])
def test_message_stream_fold_records_what_the_plain_call_records(aigw_telemetry, capture):
    aigw_telemetry.instrument(capture_content=capture)
    body, events = anthropic_events()
    plain_attrs, _ = _message(aigw_telemetry, Reply(json=body), stream=False)
    streamed, kinds = _message(aigw_telemetry, Reply(chunks=sse(events, named=True, done=False)), stream=True)

    assert {k: v for k, v in streamed.items() if k not in STREAM_ONLY} == plain_attrs
    assert plain_attrs[A.RESPONSE_FINISH_REASONS] == ("tool_use",)
    assert plain_attrs[A.USAGE_OUTPUT_TOKENS] == 9
    if capture == "span_only":
        assert A.OUTPUT_MESSAGES in plain_attrs
    assert kinds == [e["type"] for e in events if e["type"] != "ping"]  # the SDK drops pings, as uninstrumented


def test_message_stream_cut_after_the_start_keeps_the_start(aigw_telemetry):
    """A stream that ends before ``message_delta`` reports the id, model and input side, no output or stop reason."""
    aigw_telemetry.instrument()
    _, events = anthropic_events()
    attrs, kinds = _message(aigw_telemetry, Reply(chunks=sse(events[:5], named=True, done=False)), stream=True)
    assert kinds == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"]
    assert attrs[A.RESPONSE_ID] == "msg_f"
    assert attrs[A.USAGE_INPUT_TOKENS] == 22  # input + cache read + cache creation
    assert A.RESPONSE_FINISH_REASONS not in attrs
    assert A.USAGE_OUTPUT_TOKENS not in attrs
