"""Every other OpenAI endpoint: a CLIENT span with a low-cardinality name and the injected trace context.

Also pagination (one span per page request) and the endpoints with a conventional operation (retrieval, agents).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from aigw_trace import _attributes as A
from aigw_trace._providers.openai import TEMPLATES, operation_name, route
from tests.conftest import FakeAPI, Reply, ids, parent_of
from tests.providers.test_openai_responses import response_body

PAGE: dict[str, Any] = {"object": "list", "data": [], "has_more": False}
FILE = {"id": "file-abc", "object": "file", "bytes": 2, "created_at": 1, "filename": "a.jsonl", "purpose": "batch",
        "status": "processed"}  # fmt: skip
IMAGES = {"created": 1, "data": [{"b64_json": "AAAA"}],
          "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                    "input_tokens_details": {"text_tokens": 10, "image_tokens": 0}}}  # fmt: skip
TRANSCRIPTION = {"text": "hi", "usage": {"type": "tokens", "input_tokens": 5, "output_tokens": 2, "total_tokens": 7}}
AUDIO = Reply(chunks=[b"ID3", b"\x00\x01"], headers={"content-type": "audio/mpeg"})
BINARY = Reply(chunks=[b'{"a": 1}\n'], headers={"content-type": "application/octet-stream"})

Call = Callable[[openai.OpenAI], Any]

CASES: list[tuple[str, Call, Reply, str]] = [
    ("files.list", lambda c: c.files.list(), Reply(json=PAGE), "GET /v1/files"),
    ("files.create", lambda c: c.files.create(file=("a.jsonl", b"{}"), purpose="batch"), Reply(json=FILE),
     "POST /v1/files"),
    ("files.retrieve", lambda c: c.files.retrieve("file-abc"), Reply(json=FILE), "GET /v1/files/file-abc"),
    ("files.delete", lambda c: c.files.delete("file-abc"), Reply(json={"id": "file-abc", "deleted": True}),
     "DELETE /v1/files/file-abc"),
    ("files.content", lambda c: c.files.content("file-abc").read(), BINARY, "GET /v1/files/file-abc/content"),
    ("batches.create", lambda c: c.batches.create(input_file_id="file-1", endpoint="/v1/chat/completions",
                                                  completion_window="24h"), Reply(json={"id": "batch_1"}),
     "POST /v1/batches"),
    ("batches.cancel", lambda c: c.batches.cancel("batch_1"), Reply(json={"id": "batch_1"}),
     "POST /v1/batches/batch_1/cancel"),
    ("images.generate gpt-image-1", lambda c: c.images.generate(model="gpt-image-1", prompt="a cat"),
     Reply(json=IMAGES), "POST /v1/images/generations"),
    ("audio.speech.create gpt-4o-mini-tts", lambda c: c.audio.speech.create(
        model="gpt-4o-mini-tts", voice="alloy", input="hi").read(), AUDIO, "POST /v1/audio/speech"),
    ("audio.transcriptions.create gpt-4o-transcribe", lambda c: c.audio.transcriptions.create(
        model="gpt-4o-transcribe", file=("a.wav", b"RIFF")), Reply(json=TRANSCRIPTION),
     "POST /v1/audio/transcriptions"),
    ("moderations.create omni-moderation-latest", lambda c: c.moderations.create(
        model="omni-moderation-latest", input="x"), Reply(json={"id": "modr-1", "model": "omni-moderation-2024",
                                                                "results": []}), "POST /v1/moderations"),
    ("vector_stores.create", lambda c: c.vector_stores.create(name="docs"), Reply(json={"id": "vs_1"}),
     "POST /v1/vector_stores"),
    ("vector_stores.files.list", lambda c: c.vector_stores.files.list("vs_1"), Reply(json=PAGE),
     "GET /v1/vector_stores/vs_1/files"),
    ("conversations.create", lambda c: c.conversations.create(), Reply(json={"id": "conv_1"}),
     "POST /v1/conversations"),
    ("conversations.items.list", lambda c: c.conversations.items.list("conv_1"), Reply(json=PAGE),
     "GET /v1/conversations/conv_1/items"),
    ("models.retrieve", lambda c: c.models.retrieve("gpt-4o"), Reply(json={"id": "gpt-4o"}), "GET /v1/models/gpt-4o"),
    ("responses.cancel", lambda c: c.responses.cancel("resp_1"), Reply(json=response_body(status="cancelled")),
     "POST /v1/responses/resp_1/cancel"),
    ("responses.delete", lambda c: c.responses.delete("resp_1"), Reply(json={}), "DELETE /v1/responses/resp_1"),
    ("responses.input_items.list", lambda c: c.responses.input_items.list("resp_1"), Reply(json=PAGE),
     "GET /v1/responses/resp_1/input_items"),
    ("responses.input_tokens.count gpt-4.1", lambda c: c.responses.input_tokens.count(model="gpt-4.1", input="x"),
     Reply(json={"object": "response.input_tokens", "input_tokens": 3}), "POST /v1/responses/input_tokens"),
    ("fine_tuning.jobs.create gpt-4o-mini", lambda c: c.fine_tuning.jobs.create(
        model="gpt-4o-mini", training_file="file-1"), Reply(json={"id": "ftjob-1"}), "POST /v1/fine_tuning/jobs"),
    ("chat.completions.retrieve", lambda c: c.chat.completions.retrieve("chatcmpl-1"),
     Reply(json={"id": "chatcmpl-1", "usage": {"prompt_tokens": 3}}), "GET /v1/chat/completions/chatcmpl-1"),
    ("http.get", lambda c: c.get("/custom/thing/42", cast_to=object), Reply(json={}), "GET /v1/custom/thing/42"),
]  # fmt: skip

WITH_TOKENS = {"images.generate gpt-image-1": (10, 20), "audio.transcriptions.create gpt-4o-transcribe": (5, 2)}


def assert_parent(api: FakeAPI, span: Any, index: int = 0) -> None:
    trace_id, parent, sampled = parent_of(api.headers[index])
    assert (trace_id, parent) == ids(span)
    assert sampled is span.get_span_context().trace_flags.sampled


@pytest.mark.parametrize(("name", "call", "reply", "sent"), CASES, ids=[c[0] for c in CASES])
def test_every_endpoint_gets_a_span_and_the_trace_context(aigw_telemetry, fake_api, openai_client, name, call,
                                                          reply, sent):  # fmt: skip
    fake_api.reply(reply)
    call(openai_client())

    request = fake_api.requests[0]
    assert f"{request.method} {request.url.path}" == sent
    span = aigw_telemetry.span()
    assert span.name == name
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    operation = name.split(" ")[0]
    attrs = span.attributes
    assert attrs[A.OPERATION_NAME] == operation
    assert attrs[A.PROVIDER_NAME] == "openai"
    assert (attrs[A.SERVER_ADDRESS], attrs[A.SERVER_PORT]) == ("gateway.test", 4000)
    assert_parent(fake_api, span)
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.OPERATION_NAME] == operation
    tokens = {p.attributes[A.TOKEN_TYPE]: p.sum for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    if name in WITH_TOKENS:
        assert (tokens["input"], tokens["output"]) == WITH_TOKENS[name]
        assert attrs[A.USAGE_INPUT_TOKENS] == WITH_TOKENS[name][0]
    else:
        assert tokens == {}
        assert A.USAGE_INPUT_TOKENS not in attrs


def test_output_types_and_response_model(aigw_telemetry, fake_api, openai_client):
    client = openai_client()
    fake_api.reply(Reply(json=IMAGES))
    client.images.generate(model="gpt-image-1", prompt="a cat")
    fake_api.replies[:] = [AUDIO]
    client.audio.speech.create(model="gpt-4o-mini-tts", voice="alloy", input="hi").read()
    fake_api.replies[:] = [Reply(json={"id": "modr-1", "model": "omni-moderation-2024", "results": []})]
    client.moderations.create(model="omni-moderation-latest", input="x")

    image, speech, moderation = aigw_telemetry.genai_spans()
    assert image.attributes[A.OUTPUT_TYPE] == "image"
    assert speech.attributes[A.OUTPUT_TYPE] == "speech"
    assert moderation.attributes[A.RESPONSE_MODEL] == "omni-moderation-2024"
    assert A.OUTPUT_TYPE not in moderation.attributes


def test_ids_never_reach_names_or_metrics(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=FILE))
    client = openai_client()
    for file_id in ("file-1", "file-2", "file-3"):
        client.files.retrieve(file_id)
    spans = aigw_telemetry.genai_spans()
    assert {s.name for s in spans} == {"files.retrieve"}
    assert not any("file-" in str(v) for s in spans for v in s.attributes.values())
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.count == 3


def test_http_error(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(status=404, json={"error": {"message": "no such file"}}))
    with pytest.raises(openai.NotFoundError):
        openai_client().files.retrieve("file-missing")
    span = aigw_telemetry.span()
    assert span.name == "files.retrieve"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes[A.ERROR_TYPE] == "NotFoundError"
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == 404


def test_failed_object_fetched_successfully_is_not_an_error(aigw_telemetry, fake_api, openai_client):
    # A fine-tuning job that failed is data, not a failed call: generic endpoints never read `error`.
    fake_api.reply(Reply(json={"id": "ftjob-1", "status": "failed", "error": {"code": "invalid_file"}}))
    openai_client().fine_tuning.jobs.retrieve("ftjob-1")
    span = aigw_telemetry.span()
    assert span.status.status_code is StatusCode.UNSET
    assert A.ERROR_TYPE not in span.attributes


async def test_async(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"id": "batch_1"}))
    await openai_client(is_async=True).batches.retrieve("batch_1")
    span = aigw_telemetry.span()
    assert span.name == "batches.retrieve"
    assert_parent(fake_api, span)


def test_streamed_binary_body_ends_when_closed(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(AUDIO)
    client = openai_client()
    with client.audio.speech.with_streaming_response.create(model="tts-1", voice="alloy", input="hi") as response:
        assert aigw_telemetry.genai_spans() == []
        assert b"".join(response.iter_bytes()) == b"ID3\x00\x01"
    span = aigw_telemetry.span()
    assert span.name == "audio.speech.create tts-1"
    assert_parent(fake_api, span)


def test_with_raw_response(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=FILE))
    raw = openai_client().files.with_raw_response.retrieve("file-abc")
    assert raw.parse().id == "file-abc"
    assert aigw_telemetry.span().name == "files.retrieve"


def test_beta_query_in_the_path_is_ignored(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json=response_body()))
    openai_client().beta.responses.cancel("resp_1")
    assert fake_api.requests[0].url.params.get("beta") == "true"
    assert aigw_telemetry.span().name == "responses.cancel"


def test_compact_reads_responses_usage(aigw_telemetry, fake_api, openai_client):
    body = {"id": "cmp_1", "object": "response.compaction", "output": [], "model": "gpt-4.1-2025",
            "usage": response_body()["usage"]}  # fmt: skip
    fake_api.reply(Reply(json=body))
    openai_client().responses.compact(model="gpt-4.1", input="long history")
    span = aigw_telemetry.span()
    assert span.name == "responses.compact gpt-4.1"
    assert span.attributes[A.OPENAI_API_TYPE] == "responses"
    assert span.attributes[A.RESPONSE_MODEL] == "gpt-4.1-2025"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert span.attributes[A.USAGE_CACHE_READ_INPUT_TOKENS] == 4


def test_custom_post_path(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={}))
    openai_client().post("/gateway/admin/flush", cast_to=object, body={"model": "m"})
    span = aigw_telemetry.span()
    assert span.name == "http.post m"
    assert_parent(fake_api, span)


# --- conventional operations ---


def test_vector_store_search_is_retrieval(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"object": "vector_store.search_results.page", "search_query": ["q"], "data": [],
                               "has_more": False, "next_page": None}))  # fmt: skip
    openai_client().vector_stores.search("vs_42", query="what is up", max_num_results=5)
    span = aigw_telemetry.span()
    assert span.name == "retrieval vs_42"
    assert span.attributes[A.OPERATION_NAME] == "retrieval"
    assert span.attributes[A.DATA_SOURCE_ID] == "vs_42"
    assert span.attributes[A.REQUEST_TOP_K] == 5.0
    assert "what is up" not in repr(dict(span.attributes))
    assert_parent(fake_api, span)


@pytest.mark.filterwarnings("ignore:.*[Dd]eprecated:DeprecationWarning")
def test_assistant_creation_is_create_agent(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"id": "asst_1", "object": "assistant", "model": "gpt-4o", "name": "helper"}))
    openai_client().beta.assistants.create(model="gpt-4o", name="helper")
    span = aigw_telemetry.span()
    assert span.name == "create_agent helper"
    assert span.attributes[A.OPERATION_NAME] == "create_agent"
    assert span.attributes[A.AGENT_NAME] == "helper"
    assert span.attributes[A.AGENT_ID] == "asst_1"
    assert span.attributes[A.REQUEST_MODEL] == "gpt-4o"
    assert_parent(fake_api, span)


def test_unnamed_agent(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"id": "agent_1"}))
    openai_client().beta.agents.create(model="gpt-4o")
    span = aigw_telemetry.span()
    assert span.name == "create_agent"
    assert A.AGENT_NAME not in span.attributes


@pytest.mark.filterwarnings("ignore:.*[Dd]eprecated:DeprecationWarning")
def test_run_is_invoke_agent(aigw_telemetry, fake_api, openai_client):
    usage = {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}
    run = {"id": "run_1", "thread_id": "thread_1", "assistant_id": "asst_1", "status": "completed", "usage": usage}
    fake_api.reply(Reply(json=run))
    openai_client().beta.threads.runs.create("thread_1", assistant_id="asst_1")
    span = aigw_telemetry.span()
    assert span.name == "invoke_agent"
    assert span.attributes[A.AGENT_ID] == "asst_1"
    assert span.attributes[A.CONVERSATION_ID] == "thread_1"
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 9
    assert_parent(fake_api, span)


@pytest.mark.filterwarnings("ignore:.*[Dd]eprecated:DeprecationWarning")
def test_create_and_run_takes_the_thread_from_the_response(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(Reply(json={"id": "run_1", "thread_id": "thread_9", "status": "queued", "usage": None}))
    openai_client().beta.threads.create_and_run(assistant_id="asst_1")
    span = aigw_telemetry.span()
    assert span.attributes[A.CONVERSATION_ID] == "thread_9"
    assert aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE) == []


# --- pagination: one span per page request ---


def two_pages() -> list[Reply]:
    first = {"object": "list", "data": [{**FILE, "id": "file-1"}, {**FILE, "id": "file-2"}], "has_more": True}
    second = {"object": "list", "data": [{**FILE, "id": "file-3"}], "has_more": False}
    return [Reply(json=first), Reply(json=second)]


def test_auto_pagination_makes_one_span_per_page(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(*two_pages())
    tracer = aigw_telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("list everything") as app:
        files = [f.id for f in openai_client().files.list(limit=2)]
    assert files == ["file-1", "file-2", "file-3"]
    assert fake_api.requests[1].url.params["after"] == "file-2"

    pages = aigw_telemetry.genai_spans()
    assert [s.name for s in pages] == ["files.list", "files.list"]
    for index, page in enumerate(pages):
        assert page.parent.span_id == app.get_span_context().span_id  # siblings, not nested in each other
        assert_parent(fake_api, page, index)
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.count == 2


def test_only_requested_pages_are_traced(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(*two_pages())
    page = openai_client().files.list(limit=2)
    assert [f.id for f in page.data] == ["file-1", "file-2"]
    assert len(aigw_telemetry.genai_spans()) == 1
    page.get_next_page()
    assert len(aigw_telemetry.genai_spans()) == 2


async def test_async_pagination(aigw_telemetry, fake_api, openai_client):
    fake_api.reply(*two_pages())
    files = [f.id async for f in openai_client(is_async=True).files.list(limit=2)]
    assert files == ["file-1", "file-2", "file-3"]
    pages = aigw_telemetry.genai_spans()
    assert [s.name for s in pages] == ["files.list", "files.list"]
    for index, page in enumerate(pages):
        assert_parent(fake_api, page, index)


# --- the router itself ---


def test_every_template_gets_a_dotted_name_without_ids():
    for template in TEMPLATES.split():
        for method in ("get", "post", "delete"):
            name = operation_name(method, template)
            assert name, (method, template)
            assert not set(name) & set("*/?{}"), (method, template, name)


class _Options:
    def __init__(self, method: str, url: str, json_data: Any = None) -> None:
        self.method, self.url, self.json_data = method, url, json_data


@pytest.mark.parametrize(
    ("method", "url", "operation"),
    [
        ("post", "/chat/completions", "chat"),
        ("get", "/chat/completions", "chat.completions.list"),
        ("post", "/responses?beta=true", "chat"),
        ("get", "/responses/resp_1?beta=true", "fetch_response"),
        ("get", "/organization/projects/proj_1/spend_limit", "organization.projects.spend_limit.retrieve"),
        ("post", "/fine_tuning/alpha/graders/run", "fine_tuning.alpha.graders.run"),
        ("get", "/files/file-1/unknown_action", "http.get"),
        ("get", "https://elsewhere.test/v1/files", "http.get"),
        ("get", "", "http.get"),
        ("get", "//", "http.get"),
        ("HEAD", "/files", "http.request"),
    ],
)
def test_routing(method, url, operation):
    assert route(_Options(method, url)).operation == operation


def test_calls_with_ids_of_their_own_build_no_endpoint(aigw_telemetry, fake_api, openai_client, monkeypatch):
    """A route that names the call's own ids returns them beside the prepared endpoint: nothing is compiled per call,
    and nothing about one call leaks into the next (or into the metrics, where ids would be unbounded)."""
    from aigw_trace._providers._spec import Endpoint

    fake_api.reply(Reply(json={"object": "vector_store.search_results.page", "search_query": ["q"], "data": [],
                               "has_more": False, "next_page": None}))  # fmt: skip
    client = openai_client()
    client.vector_stores.search("vs_0", query="warm-up")
    built: list[Endpoint] = []
    original = Endpoint.__post_init__
    monkeypatch.setattr(Endpoint, "__post_init__", lambda self: (built.append(self), original(self))[1])
    for store in ("vs_1", "vs_2"):
        client.vector_stores.search(store, query="q")
    assert built == []
    spans = aigw_telemetry.spans()[1:]
    assert [(s.name, s.attributes[A.DATA_SOURCE_ID]) for s in spans] == [("retrieval vs_1", "vs_1"),
                                                                         ("retrieval vs_2", "vs_2")]  # fmt: skip
    for point in aigw_telemetry.metric_points("gen_ai.client.operation.duration"):
        assert A.DATA_SOURCE_ID not in point.attributes
