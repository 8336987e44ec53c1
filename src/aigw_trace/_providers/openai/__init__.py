"""The ``openai`` SDK (1.26 to 3.x), described as data for the shared machinery: one module per API family.

Four endpoint families are inference calls with full tables: chat completions, the Responses API, legacy
completions and embeddings (exact paths in :data:`ROUTES`). A few more have a conventional operation (retrieval,
agents). Every other endpoint the SDK can call is matched against :data:`TEMPLATES` and gets a plain CLIENT span
named after the endpoint, so no request reaches a gateway without the caller's trace context.
"""

from __future__ import annotations

from typing import Any

from ... import _attributes as A
from .._spec import Provider
from ._chat import CHAT, ChatStream, chat_stream
from ._completions import COMPLETIONS, EMBEDDINGS, CompletionStream
from ._responses import FETCH_RESPONSE, RESPONSES, ResponsesStream
from ._routes import ROUTES, TEMPLATES, operation_name, route

__all__ = [
    "CHAT",
    "COMPLETIONS",
    "EMBEDDINGS",
    "FETCH_RESPONSE",
    "PROVIDER",
    "RESPONSES",
    "ROUTES",
    "TEMPLATES",
    "ChatStream",
    "CompletionStream",
    "ResponsesStream",
    "chat_stream",
    "operation_name",
    "route",
]


def _provider_name(client: Any) -> str:
    from openai.lib.azure import BaseAzureClient

    return "azure.ai.openai" if isinstance(client, BaseAzureClient) else "openai"


PROVIDER = Provider(
    name="openai",
    package="openai",
    # 1.26 is the first release with stream_options.include_usage, so a streamed chat can report its tokens.
    supported="openai >= 1.26.0, < 4",
    route=route,
    provider_name=_provider_name,
    metric_attributes=(A.OPENAI_RESPONSE_SERVICE_TIER, A.OPENAI_RESPONSE_SYSTEM_FINGERPRINT),
)
