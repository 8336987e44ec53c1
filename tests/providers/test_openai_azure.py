"""Azure OpenAI clients: provider ``azure.ai.openai``, the deployment as the model, the Azure endpoint as server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest

from aigw_trace import _attributes as A
from tests.canned import sse
from tests.conftest import FakeAPI, Reply, ids, parent_of
from tests.providers.test_openai_embeddings import embedding_body
from tests.providers.test_openai_responses import response_body

ENDPOINT = "https://example-resource.openai.azure.com"
HOST = "example-resource.openai.azure.com"
API_VERSION = "2024-10-21"
MESSAGES = [{"role": "user", "content": "ping"}]


def completion() -> dict[str, Any]:
    message = {"role": "assistant", "content": "pong"}
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}  # fmt: skip


def stream_chunks(n: int) -> list[bytes]:
    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                "choices": choices, **extra}  # fmt: skip

    events = [chunk({"role": "assistant", "content": ""})] + [chunk({"content": f"t{i}"}) for i in range(n)]
    events += [chunk({}, "stop"), chunk(None, usage={"prompt_tokens": 7, "completion_tokens": n, "total_tokens": 9})]
    return sse(events)


@pytest.fixture
def azure_client(fake_api: FakeAPI) -> Callable[..., Any]:
    def make(*, is_async: bool = False, **kwargs: Any) -> Any:
        kwargs.setdefault("api_key", "test")
        kwargs.setdefault("api_version", API_VERSION)
        kwargs.setdefault("max_retries", 0)
        if "base_url" not in kwargs:
            kwargs.setdefault("azure_endpoint", ENDPOINT)
        if is_async:
            http = httpx2.AsyncClient(transport=httpx2.MockTransport(fake_api.async_handler))
            return openai.AsyncAzureOpenAI(http_client=http, **kwargs)
        return openai.AzureOpenAI(http_client=httpx2.Client(transport=httpx2.MockTransport(fake_api.handler)), **kwargs)

    return make


def assert_parent(api: FakeAPI, span: Any) -> None:
    trace_id, parent, _ = parent_of(api.headers[0])
    assert (trace_id, parent) == ids(span)


def test_chat_on_a_deployment(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(json=completion()))
    azure_client().chat.completions.create(model="my-gpt4o", messages=MESSAGES)

    request = fake_api.requests[0]
    assert request.url.path == "/openai/deployments/my-gpt4o/chat/completions"
    assert request.url.params["api-version"] == API_VERSION
    span = aigw_telemetry.span()
    assert span.name == "chat my-gpt4o"
    attrs = span.attributes
    assert attrs[A.PROVIDER_NAME] == "azure.ai.openai"
    assert attrs[A.REQUEST_MODEL] == "my-gpt4o"  # Azure routes by deployment: the name sent is the deployment's
    assert attrs[A.SERVER_ADDRESS] == HOST
    assert attrs[A.SERVER_PORT] == 443
    assert attrs[A.OPENAI_API_TYPE] == "chat_completions"
    assert attrs[A.USAGE_INPUT_TOKENS] == 11
    assert_parent(fake_api, span)
    (duration,) = aigw_telemetry.metric_points(A.METRIC_OPERATION_DURATION)
    assert duration.attributes[A.PROVIDER_NAME] == "azure.ai.openai"
    assert duration.attributes[A.SERVER_ADDRESS] == HOST
    tokens = {p.attributes[A.TOKEN_TYPE]: p for p in aigw_telemetry.metric_points(A.METRIC_TOKEN_USAGE)}
    assert tokens["input"].attributes[A.PROVIDER_NAME] == "azure.ai.openai"


def test_client_bound_to_a_deployment(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(json=completion()))
    azure_client(azure_deployment="prod-4o").chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert fake_api.requests[0].url.path == "/openai/deployments/prod-4o/chat/completions"
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.REQUEST_MODEL] == "gpt-4o"  # the body's model is what the caller named and what is sent
    assert attrs[A.SERVER_ADDRESS] == HOST


def test_stream(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(chunks=stream_chunks(3)))
    stream = azure_client().chat.completions.create(
        model="my-gpt4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    assert len(list(stream)) == 6
    span = aigw_telemetry.span()
    assert span.attributes[A.PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[A.USAGE_OUTPUT_TOKENS] == 3
    assert span.attributes[A.AIGW_STREAM_OUTCOME] == "completed"
    assert_parent(fake_api, span)


async def test_async_responses(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(json=response_body()))
    await azure_client(is_async=True).responses.create(model="my-gpt41", input="ping")
    assert fake_api.requests[0].url.path == "/openai/responses"
    span = aigw_telemetry.span()
    assert span.name == "chat my-gpt41"
    assert span.attributes[A.PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[A.OPENAI_API_TYPE] == "responses"
    assert span.attributes[A.SERVER_ADDRESS] == HOST
    assert span.attributes[A.USAGE_INPUT_TOKENS] == 12
    assert_parent(fake_api, span)


def test_embeddings(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(json=embedding_body([0.1, 0.2])))
    azure_client().embeddings.create(model="my-embedder", input="a", encoding_format="float")
    assert fake_api.requests[0].url.path == "/openai/deployments/my-embedder/embeddings"
    span = aigw_telemetry.span()
    assert span.name == "embeddings my-embedder"
    assert span.attributes[A.PROVIDER_NAME] == "azure.ai.openai"
    assert span.attributes[A.EMBEDDINGS_DIMENSION_COUNT] == 2
    assert_parent(fake_api, span)


def test_generic_endpoint(aigw_telemetry, fake_api, azure_client):
    fake_api.reply(Reply(json={"object": "list", "data": [], "has_more": False}))
    azure_client().files.list()
    span = aigw_telemetry.span()
    assert span.name == "files.list"
    assert span.attributes[A.PROVIDER_NAME] == "azure.ai.openai"
    assert_parent(fake_api, span)


def test_gateway_in_front_of_azure(aigw_telemetry, fake_api, azure_client):
    # base_url instead of azure_endpoint: the host the client talks to is the gateway's.
    fake_api.reply(Reply(json=completion()))
    client = azure_client(base_url="http://gateway.test:4000/openai/deployments/my-gpt4o")
    client.chat.completions.create(model="my-gpt4o", messages=MESSAGES)
    attrs = aigw_telemetry.span().attributes
    assert attrs[A.PROVIDER_NAME] == "azure.ai.openai"
    assert (attrs[A.SERVER_ADDRESS], attrs[A.SERVER_PORT]) == ("gateway.test", 4000)
