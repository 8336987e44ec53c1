"""A streamed call records what the same call made plain records: the same attribute keys and values, content
included, apart from the few that only a stream has (:data:`STREAM_ONLY`).

Each case describes one response once and renders it twice, as the API would: a JSON body and an event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anthropic
import httpx2
import openai
import pytest

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import FakeAPI, Reply
from tests.providers.test_openai_responses import events, response_body

STREAM_ONLY = frozenset({A.REQUEST_STREAM, A.AIGW_STREAM_OUTCOME, A.RESPONSE_TIME_TO_FIRST_CHUNK})
"""What only a streamed call can say: that it streamed, how the stream ended, when its first chunk came."""

USER = [{"role": "user", "content": "ping"}]
ANTHROPIC_MODEL = "claude-haiku-4-5"


# --- one response, two renderings ---

CHAT_COMMON = {"id": "chatcmpl-9", "created": 1, "model": "gpt-4o-2024-08-06", "service_tier": "default",
               "system_fingerprint": "fp_9"}  # fmt: skip
CHAT_USAGE = {
    "prompt_tokens": 11,
    "completion_tokens": 3,
    "total_tokens": 14,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 2},
}
TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}


def chat_plain() -> dict[str, Any]:
    choices = [
        {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
         "finish_reason": "tool_calls"},
    ]  # fmt: skip
    return {**CHAT_COMMON, "object": "chat.completion", "choices": choices, "usage": CHAT_USAGE}


def chat_stream() -> list[bytes]:
    def chunk(choices: list[Any], **extra: Any) -> dict[str, Any]:
        return {**CHAT_COMMON, "object": "chat.completion.chunk", "choices": choices, **extra}

    tool_start = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": ""}}
    tool_rest = {"index": 0, "function": {"arguments": '{"q": "x"}'}}
    return sse([
        chunk([{"index": 0, "delta": {"role": "assistant", "content": "po"}, "finish_reason": None}]),
        chunk([{"index": 1, "delta": {"role": "assistant", "tool_calls": [tool_start]}, "finish_reason": None}]),
        chunk([{"index": 0, "delta": {"content": "ng"}, "finish_reason": "stop"}]),
        chunk([{"index": 1, "delta": {"tool_calls": [tool_rest]}, "finish_reason": "tool_calls"}]),
        chunk([], usage=CHAT_USAGE),
    ])  # fmt: skip


COMPLETION_COMMON = {"id": "cmpl-9", "created": 1, "model": "gpt-3.5-turbo-instruct-0914", "system_fingerprint": "fp_c"}
COMPLETION_USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def completion_plain() -> dict[str, Any]:
    choices = [{"index": 0, "text": "pong", "finish_reason": "length", "logprobs": None}]
    return {**COMPLETION_COMMON, "object": "text_completion", "choices": choices, "usage": COMPLETION_USAGE}


def completion_stream() -> list[bytes]:
    def chunk(text: str | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choices = [] if text is None else [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}]
        return {**COMPLETION_COMMON, "object": "text_completion", "choices": choices, **extra}

    return sse([chunk("po"), chunk("ng", "length"), chunk(None, usage=COMPLETION_USAGE)])


MESSAGE_USAGE = {"input_tokens": 9, "output_tokens": 5, "cache_read_input_tokens": 3, "cache_creation_input_tokens": 1,
                 "service_tier": "standard"}  # fmt: skip
MESSAGE_COMMON = {"id": "msg_9", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                  "stop_sequence": None}  # fmt: skip
TOOL_USE = {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}}


def message_plain() -> dict[str, Any]:
    content = [{"type": "text", "text": "pong"}, TOOL_USE]
    return {**MESSAGE_COMMON, "content": content, "stop_reason": "tool_use", "usage": MESSAGE_USAGE}


def message_stream() -> list[bytes]:
    started_usage = {**MESSAGE_USAGE, "output_tokens": 1}
    delta_usage = {"output_tokens": 5}
    return sse([
        {"type": "message_start",
         "message": {**MESSAGE_COMMON, "content": [], "stop_reason": None, "usage": started_usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "po"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ng"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {**TOOL_USE, "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"q": '}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '"x"}'}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": delta_usage},
        {"type": "message_stop"},
    ], named=True, done=False)  # fmt: skip


def openai_chat(client: Any, stream: bool) -> None:
    kw: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    result = client.chat.completions.create(model="gpt-4o", messages=USER, n=2, temperature=0.5, **kw)
    if stream:
        list(result)


def openai_responses(client: Any, stream: bool) -> None:
    result = client.responses.create(model="gpt-4.1", input="ping", max_output_tokens=50, stream=stream)
    if stream:
        list(result)


def openai_completions(client: Any, stream: bool) -> None:
    kw: dict[str, Any] = {"stream": True, "stream_options": {"include_usage": True}} if stream else {}
    result = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="ping", max_tokens=2, **kw)
    if stream:
        list(result)


def anthropic_messages(client: Any, stream: bool) -> None:
    result = client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64, messages=USER, stream=stream)
    if stream:
        list(result)


Case = tuple[str, Callable[[Any, bool], None], Callable[[], Any], Callable[[], list[bytes]]]

CASES: list[Case] = [
    ("openai", openai_chat, chat_plain, chat_stream),
    ("openai", openai_responses, response_body, lambda: sse(events(), named=True, done=False)),
    ("openai", openai_completions, completion_plain, completion_stream),
    ("anthropic", anthropic_messages, message_plain, message_stream),
]


def _openai_client(api: FakeAPI) -> Any:
    http = httpx2.Client(transport=httpx2.MockTransport(api.handler))
    return openai.OpenAI(api_key="sk-test", base_url="http://gateway.test:4000/v1", http_client=http, max_retries=0)


def _anthropic_client(api: FakeAPI) -> Any:
    http = httpx2.Client(transport=httpx2.MockTransport(api.handler))
    return anthropic.Anthropic(api_key="sk-ant-test", base_url="http://gateway.test:4000", http_client=http,
                               max_retries=0, open_telemetry=False)  # fmt: skip


def _record(telemetry: Any, case: Case, stream: bool) -> tuple[dict[str, Any], list[Any]]:
    sdk, call, plain, streamed = case
    api = FakeAPI()
    api.reply(Reply(chunks=streamed()) if stream else Reply(json=plain()))
    client = _anthropic_client(api) if sdk == "anthropic" else _openai_client(api)
    before = len(telemetry.spans())
    call(client, stream)
    (span,) = telemetry.spans()[before:]
    return dict(span.attributes), [span.status.status_code]


@pytest.mark.parametrize("capture", ["no_content", "span_only"])
@pytest.mark.parametrize("case", CASES, ids=[c[1].__name__ for c in CASES])
def test_a_streamed_call_records_what_the_plain_call_records(aigw_telemetry, case, capture):
    aigw_telemetry.instrument(capture_content=capture)
    plain, plain_status = _record(aigw_telemetry, case, stream=False)
    streamed, streamed_status = _record(aigw_telemetry, case, stream=True)

    assert STREAM_ONLY - {A.RESPONSE_TIME_TO_FIRST_CHUNK} <= streamed.keys()
    assert {k: v for k, v in streamed.items() if k not in STREAM_ONLY} == plain
    assert streamed_status == plain_status
    # Not vacuous: the response side is there in both.
    assert {A.RESPONSE_ID, A.RESPONSE_MODEL, A.USAGE_INPUT_TOKENS, A.RESPONSE_FINISH_REASONS} <= plain.keys()
    # The metrics as well: both calls land in the same points (the response's model, and OpenAI's service tier and
    # system fingerprint, read off the stream as off the body).
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.count == 2
    assert {p.count for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)} == {2}
    openai_keys = (A.OPENAI_RESPONSE_SERVICE_TIER, A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT)
    assert {k: duration.attributes[k] for k in openai_keys if k in duration.attributes} == {
        k: plain[k] for k in openai_keys if k in plain and case[0] == "openai"
    }
    if capture == "span_only":
        assert A.OUTPUT_MESSAGES in plain
