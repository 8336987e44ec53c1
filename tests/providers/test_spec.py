"""The table compiler: request keys and response readers give the same attributes whatever shape a body has."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from aigw_trace import _attributes as A
from aigw_trace._providers import anthropic as anthropic_provider
from aigw_trace._providers import openai as openai_provider
from aigw_trace._providers._spec import Endpoint, Field, Param, Usage, as_int, member
from tests.providers.test_openai_chat import completion

FULL = completion()
EXPECTED = {
    A.RESPONSE_ID: "chatcmpl-1",
    A.RESPONSE_MODEL: "gpt-4o-2024-08-06",
    A.OPENAI_RESPONSE_SERVICE_TIER: "default",
    A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_abc",
    A.USAGE_INPUT_TOKENS: 11,
    A.USAGE_OUTPUT_TOKENS: 3,
    A.USAGE_CACHE_READ_INPUT_TOKENS: 4,
    A.USAGE_REASONING_OUTPUT_TOKENS: 2,
}


def read(endpoint: Endpoint, response: Any) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    endpoint.reader.read(response, attrs)
    return attrs


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda body: ChatCompletion.model_validate(body), id="validated model"),
        pytest.param(lambda body: ChatCompletion.construct(**body), id="constructed model"),
        pytest.param(lambda body: json.loads(json.dumps(body)), id="raw JSON dict"),
        pytest.param(
            lambda body: json.loads(json.dumps(body), object_hook=lambda d: SimpleNamespace(**d)), id="objects"
        ),
    ],
)
def test_every_shape_reads_the_same(shape: Any) -> None:
    assert read(openai_provider.CHAT, shape(FULL)) == EXPECTED


def test_a_missing_branch_drops_only_its_fields() -> None:
    body = {**FULL, "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}
    expected = {k: v for k, v in EXPECTED.items() if k not in (A.USAGE_CACHE_READ_INPUT_TOKENS,
                                                               A.USAGE_REASONING_OUTPUT_TOKENS)}  # fmt: skip
    assert read(openai_provider.CHAT, ChatCompletion.model_validate(body)) == expected
    assert read(openai_provider.CHAT, body) == expected


def test_a_gateway_leaving_out_required_fields_or_sending_wrong_types() -> None:
    odd = ChatCompletion.construct(id="", model=42, usage={"prompt_tokens": "11", "completion_tokens": True})
    assert read(openai_provider.CHAT, odd) == {}
    assert read(openai_provider.CHAT, {"usage": None, "choices": None, "id": None}) == {}
    assert read(openai_provider.CHAT, SimpleNamespace()) == {}


def test_values_are_converted_to_the_conventions_types() -> None:
    endpoint = Endpoint(operation="x", response=(Field(("n",), "n", as_int), Field(("s",), "s")))
    assert read(endpoint, {"n": 3, "s": "ok"}) == {"n": 3, "s": "ok"}
    assert read(endpoint, {"n": 3.5, "s": ""}) == {}
    assert read(endpoint, SimpleNamespace(n=False, s=["x"])) == {}


def test_anthropic_usage_paths_and_cache_flag() -> None:
    assert anthropic_provider.MESSAGES.adds_cache_to_input
    body = {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5, "output_tokens": 7,
            "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "service_tier": "standard"}}  # fmt: skip
    assert read(anthropic_provider.MESSAGES, body) == {
        A.RESPONSE_ID: "msg_1",
        A.RESPONSE_MODEL: "claude",
        A.ANTHROPIC_RESPONSE_SERVICE_TIER: "standard",
        A.USAGE_INPUT_TOKENS: 5,  # the core adds the cached tokens when it records
        A.USAGE_OUTPUT_TOKENS: 7,
        A.USAGE_CACHE_READ_INPUT_TOKENS: 100,
        A.USAGE_CACHE_CREATION_INPUT_TOKENS: 20,
    }


def test_request_table_is_keyed_by_body_key_and_rejects_duplicates() -> None:
    table = openai_provider.CHAT.request_table
    assert table["max_tokens"][0] == table["max_completion_tokens"][0] == A.REQUEST_MAX_TOKENS
    assert table["max_tokens"][2] is True  # yields to max_completion_tokens
    with pytest.raises(ValueError, match="described twice"):
        Endpoint(operation="x", request=(Field(("a",), "a"), Param("a", lambda value, attrs: None)))
    assert Endpoint(operation="x", usage=Usage()).reads_response
    assert not Endpoint(operation="x").reads_response


def test_member_finds_extra_fields_without_raising() -> None:
    model = ChatCompletion.construct(**FULL, error={"type": "bad"})
    assert member(model, "error") == {"type": "bad"}
    assert member(ChatCompletion.construct(**FULL), "error") is None
    assert member({"error": 1}, "error") == 1
    assert member(SimpleNamespace(error=2), "error") == 2
    assert member(object(), "error") is None


def test_request_values_already_of_their_type_skip_the_converter_but_falsy_ones_do_not() -> None:
    def requested(body: dict[str, Any]) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        openai_provider.CHAT.read_request(body, attrs)
        return attrs

    assert requested({"temperature": 0.2, "seed": 7}) == {A.REQUEST_TEMPERATURE: 0.2, A.REQUEST_SEED: 7}
    zeros = requested({"temperature": 0, "seed": 0, "top_p": 0.0})
    assert zeros == {A.REQUEST_TEMPERATURE: 0.0, A.REQUEST_SEED: 0, A.REQUEST_TOP_P: 0.0}
    assert type(zeros[A.REQUEST_TEMPERATURE]) is float  # an int temperature becomes the conventions' double
    assert requested({"seed": True, "temperature": "hot", "user": ""}) == {}
