"""The ``anthropic`` SDK (0.40 to 2.x), described as data for the shared machinery.

anthropic 1.14 and later trace themselves: ``request()`` starts one CLIENT span per API call
(``anthropic.messages.create``, …) through the module-level ``start_api_call_span`` of ``anthropic._base_client``,
and injects that span's context into each attempt. aigw-trace takes that span's place rather than adding a second
one: while one of our calls is current, ``start_api_call_span`` answers ``None``, which is the SDK's own "no span
for this call" signal, so the SDK makes no span and injects nothing; the shared machinery makes the one span and
injects it (``_setup``). Why, and what changes for a user of the native tracing, is in ``docs/anthropic.md``.

From 1.x every SDK method names its call (``options.span_name``), so calls are routed by that name with one dict
lookup (``_methods``): the Messages API (``create``, ``stream()``, ``parse``, stable and beta) is a ``chat`` with full
tables (``_messages``); every other method gets a plain CLIENT span whose operation is the method's name
(``messages.count_tokens``, ``messages.batches.create``, ``files.list``). A request without such a name (anthropic
0.x, or ``client.post(...)``) is routed by its path.
"""

from __future__ import annotations

from typing import Any

from .._spec import Provider
from ._messages import COUNT_TOKENS, MESSAGES, MessageStreamSummary
from ._methods import route
from ._setup import version_specific_setup

__all__ = ["COUNT_TOKENS", "MESSAGES", "PROVIDER", "MessageStreamSummary", "route"]


def _provider_name(client: Any) -> str:
    # The SDK's own per-class answer (``aws.bedrock`` for AnthropicBedrock, ``gcp.vertex_ai`` for AnthropicVertex).
    name = getattr(client, "_gen_ai_provider_name", None)
    if isinstance(name, str) and name:
        return name
    modules = [cls.__module__ for cls in type(client).__mro__]
    if any(".lib.bedrock" in m for m in modules):
        return "aws.bedrock"
    if any(".lib.vertex" in m for m in modules):
        return "gcp.vertex_ai"
    return "anthropic"


PROVIDER = Provider(
    name="anthropic",
    package="anthropic",
    # 0.40 is the oldest release whose own default client works with current httpx (0.28 dropped `proxies=`).
    supported="anthropic >= 0.40.0, < 3",
    route=route,
    provider_name=_provider_name,
    extra_setup=version_specific_setup,
)
