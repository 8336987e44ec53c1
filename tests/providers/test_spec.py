"""The table compiler: request keys and response readers give the same attributes whatever shape a body has."""

from __future__ import annotations

import json
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import pytest
from openai.types.chat import ChatCompletion

from aigw_trace import _attributes as A
from aigw_trace._providers import _request as request_module
from aigw_trace._providers import anthropic as anthropic_provider
from aigw_trace._providers import openai as openai_provider
from aigw_trace._providers._request import Param
from aigw_trace._providers._spec import Endpoint, Field, Usage
from aigw_trace._providers._values import as_int, mapped, member
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


def requested(endpoint: Endpoint, body: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    endpoint.read_request(body, attrs)
    return attrs


class Omitted:
    """Like the SDK's omit sentinel: anthropic sends every parameter, the ones left out as this."""

    def __bool__(self) -> bool:
        return False


NESTED = Endpoint(
    operation="x",
    request=(
        Field(("fmt", "spec", "type"), "kind", mapped({"json_schema": "json", "text": "text"})),
        Field(("fmt", "effort"), "effort"),
        Field(("limits", "budget"), "budget", as_int),
        Field(("conversation",), "conversation"),
        Field(("conversation", "id"), "conversation"),
    ),
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"fmt": {"spec": {"type": "json_schema"}, "effort": "high"}},
            {"kind": "json", "effort": "high"},
            id="present, mapped",
        ),
        pytest.param(
            {"fmt": {"spec": {"type": "text"}}, "limits": {"budget": 9}},
            {"kind": "text", "budget": 9},
            id="one of two under a key",
        ),
        pytest.param({"fmt": {}, "limits": {"other": 1}}, {}, id="absent below"),
        pytest.param({"fmt": None, "limits": {"budget": None}}, {}, id="None on the way or at the end"),
        pytest.param({"fmt": Omitted(), "limits": Omitted(), "conversation": Omitted()}, {}, id="omit sentinel"),
        pytest.param({"fmt": "json_schema", "limits": 5, "conversation": ["c"]}, {}, id="a scalar where a dict goes"),
        pytest.param(
            {"fmt": {"spec": "json_schema", "effort": 3}, "limits": {"budget": "9"}}, {}, id="wrong type below"
        ),
        pytest.param({"fmt": {"spec": {"type": "xml"}}}, {}, id="a value the converter does not map"),
        pytest.param({"fmt": {"spec": {"type": ["json_schema"]}}}, {}, id="an unhashable value to map"),
        pytest.param(
            {"fmt": SimpleNamespace(spec=SimpleNamespace(type="json_schema"), effort="low")},
            {"kind": "json", "effort": "low"},
            id="objects, not dicts",
        ),
        pytest.param({"fmt": OrderedDict(spec=OrderedDict(type="text"))}, {"kind": "text"}, id="dict subclasses"),
        pytest.param(
            {"conversation": "conv_1"}, {"conversation": "conv_1"}, id="a key read itself and below: the value"
        ),
        pytest.param({"conversation": {"id": "conv_2"}}, {"conversation": "conv_2"}, id="... and below it"),
        pytest.param({"conversation": {"id": ""}}, {}, id="... neither"),
    ],
)
def test_nested_request_fields(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert requested(NESTED, body) == expected
    # The table is walked from the body's side or the table's, whichever is shorter: both give the same.
    padded = {**body, **{f"unknown_{i}": i for i in range(len(NESTED.request_table) + 1)}}
    assert requested(NESTED, padded) == expected


def test_nested_fields_share_one_entry_per_top_level_key() -> None:
    table = NESTED.request_table
    assert list(table) == ["fmt", "limits", "conversation"]
    assert all(entry[0] is None for entry in table.values())  # one generated function per key, not one per path
    top = Endpoint(operation="x", request=(Field(("a",), "a", as_int),)).request_table["a"]
    assert top[0] == "a"  # a lone top-level field keeps its inline entry
    with pytest.raises(ValueError, match="described twice"):
        Endpoint(operation="x", request=(Field(("a", "b"), "x"), Field(("a", "b"), "x")))
    with pytest.raises(ValueError, match="described twice"):
        Endpoint(operation="x", request=(Field(("a", "b"), "x"), Param("a", lambda value, attrs: None)))


@pytest.mark.parametrize("order", ["fallback first", "fallback last"])
def test_a_nested_fallback_yields_to_another_key_whatever_the_order(order: str) -> None:
    endpoint = Endpoint(
        operation="x",
        request=(Field(("legacy", "limit"), "limit", as_int, fallback=True), Field(("limit",), "limit", as_int)),
    )
    items = [("legacy", {"limit": 1}), ("limit", 2)]
    body = dict(items if order == "fallback first" else items[::-1])
    assert requested(endpoint, body) == {"limit": 2}
    assert requested(endpoint, {"legacy": {"limit": 1}}) == {"limit": 1}
    assert requested(endpoint, {"legacy": {"limit": 1}, "limit": "x"}) == {"limit": 1}  # no value: no override


def test_provider_tables_read_nested_parameters() -> None:
    anthropic_body = {
        "max_tokens": 5,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "output_config": {"effort": "high", "format": {"type": "json_schema", "schema": {}}},
        "tool_choice": Omitted(),
    }
    assert requested(anthropic_provider.MESSAGES, anthropic_body) == {
        A.REQUEST_MAX_TOKENS: 5,
        A.ANTHROPIC_THINKING_TYPE: "enabled",
        A.ANTHROPIC_THINKING_BUDGET_TOKENS: 1024,
        A.REQUEST_REASONING_LEVEL: "high",
        A.OUTPUT_TYPE: "json",
    }
    assert requested(anthropic_provider.MESSAGES, {"thinking": Omitted(), "output_config": Omitted()}) == {}
    chat = {"response_format": {"type": "json_object"}, "modalities": ["text", "audio"]}
    assert requested(openai_provider.CHAT, chat) == {A.OUTPUT_TYPE: "json"}  # the format says more than modalities
    assert requested(openai_provider.RESPONSES, {"text": {"format": {"type": "text"}}}) == {A.OUTPUT_TYPE: "text"}


def test_a_value_of_an_absent_class_is_skipped_whole(monkeypatch) -> None:
    class Sentinel:
        type = "enabled"  # would be read if the value were not known to stand for "left out"

    assert requested(anthropic_provider.MESSAGES, {"thinking": Sentinel()}) == {A.ANTHROPIC_THINKING_TYPE: "enabled"}
    monkeypatch.setattr(request_module, "ABSENT", {Sentinel})
    skipping = Endpoint(operation="x", request=(Field(("thinking", "type"), "t"), Field(("thinking",), "u")))
    assert requested(skipping, {"thinking": Sentinel()}) == {}


def test_instrumenting_anthropic_marks_its_omit_sentinel_absent_until_undone(aigw_telemetry) -> None:
    import anthropic
    import anthropic._types

    import aigw_trace

    assert anthropic._types.Omit in request_module.ABSENT
    aigw_trace.uninstrument()
    assert anthropic._types.Omit not in request_module.ABSENT
    # Without the hint an omitted parameter still reads as absent, only through a failed attribute lookup.
    assert (
        requested(anthropic_provider.MESSAGES, {"thinking": anthropic.Omit(), "output_config": anthropic.Omit()}) == {}
    )


def _fresh(endpoint: Endpoint) -> Endpoint:
    return Endpoint(operation=endpoint.operation, request=endpoint.request, model=endpoint.model)


@pytest.mark.parametrize("first", [0, 1])
def test_the_compiled_request_reader_records_what_the_loop_does_in_either_conventions(first: int) -> None:
    """The first call puts a straight-line function in the endpoint's ``read_request``; calls in the other column's
    keys (anthropic's ``top_k`` differs in type) go through the loop, and every body reads as the loop reads it."""
    bodies: list[tuple[Endpoint, dict[str, Any]]] = [
        (anthropic_provider.MESSAGES, {"model": "c", "top_k": 5, "temperature": 0.5, "top_p": Omitted()}),
        (anthropic_provider.MESSAGES, {"model": "c", "top_k": Omitted(), "stop_sequences": ["x"], "max_tokens": 9}),
        (openai_provider.CHAT, {"model": "g", "max_tokens": 3, "max_completion_tokens": 4, "seed": 0}),
        (openai_provider.CHAT, {"max_completion_tokens": 4, "max_tokens": 3, "temperature": 1, "n": None}),
        (openai_provider.CHAT, {"response_format": {"type": "json_schema"}, "stop": "s", "top_p": True}),
        (openai_provider.EMBEDDINGS, {"dimensions": 256, "encoding_format": "base64", "input": "hi"}),
        (openai_provider.EMBEDDINGS, {"dimensions": 0, "encoding_format": ""}),
    ]
    for declared, body in bodies:
        endpoint = _fresh(declared)
        assert "read_request" not in vars(endpoint)
        expected = []
        for conventions in (0, 1):
            attrs: dict[str, Any] = {}
            endpoint._read_request_loop(body, attrs, conventions)
            expected.append(attrs)
        got: dict[int, dict[str, Any]] = {}
        for conventions in (first, 1 - first, first, 1 - first):
            attrs = {}
            endpoint.read_request(body, attrs, conventions)
            assert got.setdefault(conventions, attrs) == attrs
            assert {k: type(v) for k, v in attrs.items()} == {k: type(v) for k, v in expected[conventions].items()}
        assert "read_request" in vars(endpoint)  # compiled once, on the first call
        assert got == {0: expected[0], 1: expected[1]}
    assert expected[0] == {A.EMBEDDINGS_DIMENSION_COUNT: 0}  # a falsy value still goes through its converter
