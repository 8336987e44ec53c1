"""Which OpenAI endpoint a request is: the inference calls by exact path, every other endpoint by its path template."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ... import _attributes as A
from .._spec import Endpoint, Field, Specifics, Usage
from .._values import as_float, as_str
from ._chat import CHAT
from ._completions import COMPLETIONS, EMBEDDINGS
from ._responses import FETCH_RESPONSE, RESPONSES, RESPONSES_FIELDS, RESPONSES_USAGE

ROUTES: dict[tuple[str, str], Endpoint] = {
    ("post", "/chat/completions"): CHAT,
    ("post", "/responses"): RESPONSES,
    ("post", "/completions"): COMPLETIONS,
    ("post", "/embeddings"): EMBEDDINGS,
}
"""(lower-case HTTP method, request path as the SDK passes it) → endpoint: the inference calls, one lookup."""


# --- every other endpoint ---

TEMPLATES = """
agents agents/* agents/automations agents/automations/* agents/automations/*/invocations
    agents/automations/*/invocations/* agents/automations/*/pause agents/automations/*/resume
    agents/environments agents/environments/* agents/environments/*/files agents/environments/templates
    agents/environments/templates/* agents/sessions agents/sessions/* agents/sessions/*/artifacts
    agents/sessions/*/artifacts/* agents/sessions/*/artifacts/*/content agents/sessions/*/events
    agents/sessions/*/items agents/sessions/*/subagents agents/sessions/*/subagents/*
    agents/sessions/*/subagents/*/items agents/sessions/*/subagents/*/turns agents/sessions/*/subagents/*/turns/*
    agents/sessions/*/subagents/*/turns/*/items agents/sessions/*/traces agents/sessions/*/turns
    agents/sessions/*/turns/* agents/sessions/*/turns/*/items
assistants assistants/*
audio/speech audio/transcriptions audio/translations audio/voice_consents audio/voice_consents/* audio/voices
    audio/voices/*
batches batches/* batches/*/cancel
chat/completions chat/completions/* chat/completions/*/messages
chatkit/sessions chatkit/sessions/*/cancel chatkit/threads chatkit/threads/* chatkit/threads/*/items
completions
containers containers/* containers/*/files containers/*/files/* containers/*/files/*/content
content_provenance_checks
conversations conversations/* conversations/*/items conversations/*/items/*
decisions
embeddings
evals evals/* evals/*/runs evals/*/runs/* evals/*/runs/*/cancel evals/*/runs/*/output_items
    evals/*/runs/*/output_items/*
files files/* files/*/content
fine_tuning/alpha/graders/run fine_tuning/alpha/graders/validate fine_tuning/checkpoints/*/permissions
    fine_tuning/checkpoints/*/permissions/* fine_tuning/jobs fine_tuning/jobs/* fine_tuning/jobs/*/cancel
    fine_tuning/jobs/*/checkpoints fine_tuning/jobs/*/events fine_tuning/jobs/*/pause fine_tuning/jobs/*/resume
images/edits images/generations images/variations
live/sessions live/sessions/*/accept live/sessions/*/content live/sessions/*/fork live/sessions/*/hangup
    live/sessions/*/refer live/sessions/*/reject
models models/*
moderations
organization/admin_api_keys organization/admin_api_keys/* organization/audit_logs organization/certificates
    organization/certificates/* organization/certificates/activate organization/certificates/deactivate
    organization/costs organization/data_retention organization/external_keys organization/external_keys/*
    organization/external_keys/*/validate organization/external_storage organization/external_storage/*
    organization/external_storage/*/validate organization/groups organization/groups/* organization/groups/*/roles
    organization/groups/*/roles/* organization/groups/*/users organization/groups/*/users/* organization/invites
    organization/invites/* organization/projects organization/projects/* organization/projects/*/api_keys
    organization/projects/*/api_keys/* organization/projects/*/archive organization/projects/*/certificates
    organization/projects/*/certificates/activate organization/projects/*/certificates/deactivate
    organization/projects/*/data_retention organization/projects/*/groups organization/projects/*/groups/*
    organization/projects/*/hosted_tool_permissions organization/projects/*/model_permissions
    organization/projects/*/rate_limits organization/projects/*/rate_limits/* organization/projects/*/service_accounts
    organization/projects/*/service_accounts/* organization/projects/*/service_accounts/*/api_keys
    organization/projects/*/service_tier_settings organization/projects/*/spend_alerts
    organization/projects/*/spend_alerts/* organization/projects/*/spend_limit organization/projects/*/users
    organization/projects/*/users/* organization/roles organization/roles/* organization/spend_alerts
    organization/spend_alerts/* organization/spend_limit organization/usage/audio_speeches
    organization/usage/audio_transcriptions organization/usage/code_interpreter_sessions
    organization/usage/completions organization/usage/decisions organization/usage/embeddings
    organization/usage/file_search_calls organization/usage/images organization/usage/moderations
    organization/usage/vector_stores organization/usage/web_search_calls organization/users organization/users/*
    organization/users/*/roles organization/users/*/roles/* organization/workload_identity_providers
    organization/workload_identity_providers/* organization/workload_identity_providers/*/federation_rules
    organization/workload_identity_providers/*/federation_rules/*
projects/*/groups/*/roles projects/*/groups/*/roles/* projects/*/roles projects/*/roles/* projects/*/users/*/roles
    projects/*/users/*/roles/*
realtime/calls realtime/calls/*/accept realtime/calls/*/hangup realtime/calls/*/refer realtime/calls/*/reject
    realtime/client_secrets realtime/sessions realtime/transcription_sessions realtime/translations/client_secrets
responses responses/* responses/*/cancel responses/*/input_items responses/compact responses/input_tokens
safety/alerts/* safety/cases/*
skills skills/* skills/*/content skills/*/versions skills/*/versions/* skills/*/versions/*/content
threads threads/* threads/*/messages threads/*/messages/* threads/*/runs threads/*/runs/* threads/*/runs/*/cancel
    threads/*/runs/*/steps threads/*/runs/*/steps/* threads/*/runs/*/submit_tool_outputs threads/runs
uploads uploads/*/cancel uploads/*/complete uploads/*/parts
vaults vaults/* vaults/*/credentials vaults/*/credentials/*
vector_stores vector_stores/* vector_stores/*/file_batches vector_stores/*/file_batches/*
    vector_stores/*/file_batches/*/cancel vector_stores/*/file_batches/*/files vector_stores/*/files
    vector_stores/*/files/* vector_stores/*/files/*/content vector_stores/*/search
videos videos/* videos/*/content videos/*/remix videos/characters videos/characters/* videos/edits videos/extensions
webhook_endpoints webhook_endpoints/* webhook_endpoints/*/rotate_secret webhook_endpoints/*/test
webhook_event_types
"""
"""Every REST path of ``openai`` 3.54, ``*`` standing for an id; compiled once into a trie. A path outside it (a
newer SDK's endpoint, ``client.get("/custom")``) still gets a span, named ``http.{method}``."""

_ACTIONS = frozenset(
    {
        "accept", "activate", "archive", "cancel", "compact", "complete", "content", "deactivate", "fork", "hangup",
        "pause", "refer", "reject", "remix", "resume", "rotate_secret", "run", "search", "submit_tool_outputs",
        "test", "validate",
    }
)  # fmt: skip
"""Last path words that name what is done (``batches/*/cancel`` → ``batches.cancel``), not a collection."""

_SINGLETONS = frozenset(
    {"data_retention", "hosted_tool_permissions", "model_permissions", "service_tier_settings", "spend_limit"}
)
"""Last path words that name one object, read and written like an item (``…/spend_limit`` → ``….retrieve``)."""

_ITEM_VERBS = {"get": "retrieve", "post": "update", "put": "update", "patch": "update", "delete": "delete"}
_COLLECTION_VERBS = {"get": "list", "post": "create", "put": "update", "patch": "update", "delete": "delete"}

_NAMES = {
    ("post", "images/generations"): "images.generate",
    ("post", "images/edits"): "images.edit",
    ("post", "images/variations"): "images.create_variation",
    ("post", "responses/input_tokens"): "responses.input_tokens.count",
}
"""Where the SDK's method name reads better than the derived one."""

_TOKENS = Usage(input=("input_tokens",), output=("output_tokens",))

_GENERIC_TABLES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "images/generations"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "images/edits"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "images/variations"): {"attributes": {A.OUTPUT_TYPE: "image"}, "usage": _TOKENS},
    ("post", "audio/speech"): {"attributes": {A.OUTPUT_TYPE: "speech"}},
    ("post", "audio/transcriptions"): {"usage": _TOKENS},
    ("post", "audio/translations"): {"usage": _TOKENS},
    ("post", "moderations"): {"response": (Field(("model",), A.RESPONSE_MODEL),)},
    ("post", "responses/compact"): {
        "attributes": {A.OPENAI_API_TYPE: "responses"},
        "response": RESPONSES_FIELDS,
        "usage": RESPONSES_USAGE,
    },
}
"""Generic endpoints that report something worth reading: only these read their response (and record tokens)."""

RETRIEVAL = Endpoint(operation="retrieval", request=(Field(("max_num_results",), A.REQUEST_TOP_K, as_float),))
"""``vector_stores.search``, the conventions' example of a retrieval; span ``retrieval {vector store id}``."""

CREATE_AGENT = Endpoint(operation="create_agent", span_name="create_agent", response=(Field(("id",), A.AGENT_ID),))
"""``POST /assistants`` and ``POST /agents``; span ``create_agent {name}`` when the agent is named."""


INVOKE_AGENT = Endpoint(
    operation="invoke_agent",
    span_name="invoke_agent",
    request=(Field(("assistant_id",), A.AGENT_ID),),
    response=(Field(("thread_id",), A.CONVERSATION_ID),),
    usage=Usage(),
)
"""Assistants runs (``threads.runs.create``, ``threads.create_and_run``): the thread is the conversation."""


def _body(options: Any) -> Mapping[str, Any]:
    body = options.json_data
    return body if isinstance(body, Mapping) else {}


def _retrieval(ids: list[str], options: Any) -> Specifics:
    store = ids[0]
    return Specifics(RETRIEVAL, f"retrieval {store}", {A.DATA_SOURCE_ID: store})


def _create_agent(ids: list[str], options: Any) -> Endpoint | Specifics:
    name = as_str(_body(options).get("name"))
    if name is None:
        return CREATE_AGENT
    return Specifics(CREATE_AGENT, f"create_agent {name}", {A.AGENT_NAME: name})


def _invoke_agent(ids: list[str], options: Any) -> Endpoint | Specifics:
    return Specifics(INVOKE_AGENT, None, {A.CONVERSATION_ID: ids[0]}) if ids else INVOKE_AGENT


_SPECIAL: dict[tuple[str, str], Endpoint | Callable[[list[str], Any], Endpoint | Specifics]] = {
    ("get", "responses/*"): FETCH_RESPONSE,
    ("post", "vector_stores/*/search"): _retrieval,
    ("post", "assistants"): _create_agent,
    ("post", "agents"): _create_agent,
    ("post", "threads/runs"): _invoke_agent,
    ("post", "threads/*/runs"): _invoke_agent,
}
"""Template paths with a conventional operation; the callables read the call's ids or body."""


class _Node:
    __slots__ = ("children", "template", "wildcard")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.wildcard: _Node | None = None
        self.template: str | None = None


def _compile(templates: str) -> _Node:
    root = _Node()
    for template in templates.split():
        node = root
        for segment in template.split("/"):
            if segment == "*":
                if node.wildcard is None:
                    node.wildcard = _Node()
                node = node.wildcard
            else:
                child = node.children.get(segment)
                if child is None:
                    child = node.children[segment] = _Node()
                node = child
        node.template = template
    return root


def _match_in(trie: _Node, path: str) -> tuple[str, list[str]] | None:
    """The template ``path`` instantiates and the ids in it; a word of the template wins over an id."""
    node = trie
    ids: list[str] = []
    for segment in path.strip("/").split("/"):
        child = node.children.get(segment)
        if child is None:
            child = node.wildcard
            if child is None or not segment:
                return None
            ids.append(segment)
        node = child
    return (node.template, ids) if node.template is not None else None


def _first_match(path: str) -> tuple[str, list[str]] | None:
    """The first path matched builds the trie (a few hundred nodes: not worth building at ``instrument()`` for a
    process that only calls endpoints with routes of their own), and puts the matcher over it in its place."""
    global _match
    _match = functools.partial(_match_in, _compile(TEMPLATES))  # two threads here at once: both tries are equal
    return _match(path)


_match: Callable[[str], tuple[str, list[str]] | None] = _first_match


def operation_name(method: str, template: str) -> str:
    """A low-cardinality name for an endpoint: its path words and a verb, e.g. ``vector_stores.files.list``."""
    name = _NAMES.get((method, template))
    if name is not None:
        return name
    segments = template.split("/")
    words = [s for s in segments if s != "*"]
    last = segments[-1]
    if last == "*" or last in _SINGLETONS:
        verb = _ITEM_VERBS.get(method)
    elif last in _ACTIONS:
        verb = None
    else:
        verb = _COLLECTION_VERBS.get(method)
    return ".".join([*words, verb] if verb else words)


_GENERIC: dict[tuple[str, str], Endpoint] = {}
"""Generic endpoints made on first use; bounded by the templates times the five HTTP methods (never by ids)."""

_FALLBACK = {m: Endpoint(operation=f"http.{m}") for m in _ITEM_VERBS}
_FALLBACK_OTHER = Endpoint(operation="http.request")


def _generic(method: str, template: str) -> Endpoint:
    key = (method, template)
    endpoint = _GENERIC.get(key)
    if endpoint is None:
        endpoint = _GENERIC[key] = Endpoint(operation=operation_name(method, template), **_GENERIC_TABLES.get(key, {}))
    return endpoint


def route(options: Any) -> Endpoint | Specifics:
    method = options.method.lower()
    url = options.url
    endpoint = ROUTES.get((method, url))
    if endpoint is not None:
        return endpoint
    return _route_path(method, url, options)


def _route_path(method: str, url: str, options: Any) -> Endpoint | Specifics:
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    endpoint = ROUTES.get((method, path))  # e.g. the beta resources' "/responses?beta=true"
    if endpoint is not None:
        return endpoint
    matched = _match(path) if method in _ITEM_VERBS else None
    if matched is None:
        return _FALLBACK.get(method, _FALLBACK_OTHER)
    template, ids = matched
    special = _SPECIAL.get((method, template))
    if special is not None:
        return special if isinstance(special, Endpoint) else special(ids, options)
    return _generic(method, template)
