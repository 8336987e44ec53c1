"""Every attribute key, metric name and event name aigw-trace emits, in one place.

Keys come from ``opentelemetry-semantic-conventions`` wherever it has a constant (the GenAI constants there are
marked deprecated because the conventions moved repository, but they hold the released v1.41 strings). The few
names without a constant are spelled out at the bottom of this module and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as _ga
from opentelemetry.semconv._incubating.attributes import openai_attributes as _oa
from opentelemetry.semconv._incubating.attributes import user_attributes as _user
from opentelemetry.semconv._incubating.metrics import gen_ai_metrics as _gm
from opentelemetry.semconv.attributes import error_attributes as _er
from opentelemetry.semconv.attributes import server_attributes as _sv

# --- GenAI span attributes (released conventions, v1.41) ---
OPERATION_NAME: Final = _ga.GEN_AI_OPERATION_NAME
PROVIDER_NAME: Final = _ga.GEN_AI_PROVIDER_NAME
CONVERSATION_ID: Final = _ga.GEN_AI_CONVERSATION_ID
OUTPUT_TYPE: Final = _ga.GEN_AI_OUTPUT_TYPE
REQUEST_MODEL: Final = _ga.GEN_AI_REQUEST_MODEL
REQUEST_CHOICE_COUNT: Final = _ga.GEN_AI_REQUEST_CHOICE_COUNT
REQUEST_SEED: Final = _ga.GEN_AI_REQUEST_SEED
REQUEST_STREAM: Final = _ga.GEN_AI_REQUEST_STREAM
REQUEST_FREQUENCY_PENALTY: Final = _ga.GEN_AI_REQUEST_FREQUENCY_PENALTY
REQUEST_PRESENCE_PENALTY: Final = _ga.GEN_AI_REQUEST_PRESENCE_PENALTY
REQUEST_MAX_TOKENS: Final = _ga.GEN_AI_REQUEST_MAX_TOKENS
REQUEST_STOP_SEQUENCES: Final = _ga.GEN_AI_REQUEST_STOP_SEQUENCES
REQUEST_TEMPERATURE: Final = _ga.GEN_AI_REQUEST_TEMPERATURE
REQUEST_TOP_K: Final = _ga.GEN_AI_REQUEST_TOP_K
REQUEST_TOP_P: Final = _ga.GEN_AI_REQUEST_TOP_P
REQUEST_ENCODING_FORMATS: Final = _ga.GEN_AI_REQUEST_ENCODING_FORMATS
RESPONSE_FINISH_REASONS: Final = _ga.GEN_AI_RESPONSE_FINISH_REASONS
RESPONSE_ID: Final = _ga.GEN_AI_RESPONSE_ID
RESPONSE_MODEL: Final = _ga.GEN_AI_RESPONSE_MODEL
RESPONSE_TIME_TO_FIRST_CHUNK: Final = _ga.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK
USAGE_INPUT_TOKENS: Final = _ga.GEN_AI_USAGE_INPUT_TOKENS
USAGE_OUTPUT_TOKENS: Final = _ga.GEN_AI_USAGE_OUTPUT_TOKENS
USAGE_CACHE_READ_INPUT_TOKENS: Final = _ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS
USAGE_CACHE_CREATION_INPUT_TOKENS: Final = _ga.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
USAGE_REASONING_OUTPUT_TOKENS: Final = _ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS
EMBEDDINGS_DIMENSION_COUNT: Final = _ga.GEN_AI_EMBEDDINGS_DIMENSION_COUNT
TOKEN_TYPE: Final = _ga.GEN_AI_TOKEN_TYPE
INPUT_MESSAGES: Final = _ga.GEN_AI_INPUT_MESSAGES
OUTPUT_MESSAGES: Final = _ga.GEN_AI_OUTPUT_MESSAGES
SYSTEM_INSTRUCTIONS: Final = _ga.GEN_AI_SYSTEM_INSTRUCTIONS
TOOL_DEFINITIONS: Final = _ga.GEN_AI_TOOL_DEFINITIONS
AGENT_ID: Final = _ga.GEN_AI_AGENT_ID
AGENT_NAME: Final = _ga.GEN_AI_AGENT_NAME
DATA_SOURCE_ID: Final = _ga.GEN_AI_DATA_SOURCE_ID

# --- OpenAI-specific (openai.md) ---
OPENAI_API_TYPE: Final = _oa.OPENAI_API_TYPE
OPENAI_REQUEST_SERVICE_TIER: Final = _oa.OPENAI_REQUEST_SERVICE_TIER
OPENAI_RESPONSE_SERVICE_TIER: Final = _oa.OPENAI_RESPONSE_SERVICE_TIER
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = _oa.OPENAI_RESPONSE_SYSTEM_FINGERPRINT

# --- General ---
USER_ID: Final = _user.USER_ID
ERROR_TYPE: Final = _er.ERROR_TYPE
SERVER_ADDRESS: Final = _sv.SERVER_ADDRESS
SERVER_PORT: Final = _sv.SERVER_PORT

# --- Well-known values ---
TOKEN_TYPE_INPUT: Final = _ga.GenAiTokenTypeValues.INPUT.value
TOKEN_TYPE_OUTPUT: Final = _ga.GenAiTokenTypeValues.OUTPUT.value
ERROR_TYPE_OTHER: Final = _er.ErrorTypeValues.OTHER.value

# --- Metrics ---
METRIC_OPERATION_DURATION: Final = _gm.GEN_AI_CLIENT_OPERATION_DURATION
METRIC_TOKEN_USAGE: Final = _gm.GEN_AI_CLIENT_TOKEN_USAGE
METRIC_TIME_TO_FIRST_CHUNK: Final = _gm.GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK
METRIC_TIME_PER_OUTPUT_CHUNK: Final = _gm.GEN_AI_CLIENT_OPERATION_TIME_PER_OUTPUT_CHUNK

DURATION_BUCKETS: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
"""Bucket boundaries the conventions advise for the duration and chunk-timing histograms (seconds)."""

TOKEN_BUCKETS: Final = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)  # fmt: skip
"""Bucket boundaries the conventions advise for ``gen_ai.client.token.usage``."""

SCHEMA_URL: Final = "https://opentelemetry.io/schemas/1.41.0"
"""The conventions release whose names we emit."""

# --- The latest GenAI conventions, behind OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental ---
# semantic-conventions-genai `main`: docs/gen-ai/client-inference.md @024a4f94, gen-ai-token-metrics.md @066d4a7f,
# client-embeddings.md @88eccb15 (see docs/conventions.md). No constant exists for any of these names yet.

SEMCONV_OPT_IN_ENV: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""The OpenTelemetry switch between released and newest conventions (a comma-separated list)."""
SEMCONV_OPT_IN_GEN_AI: Final = "gen_ai_latest_experimental"
"""The value in that list that selects the latest GenAI conventions."""

USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
"""Latest name of ``gen_ai.usage.cache_creation.input_tokens`` (``changelog.d/440.breaking.md``)."""
TOKEN_MODALITY: Final = "gen_ai.token.modality"
"""Required on the latest token counters: ``text``, ``image``, ``audio`` or ``unknown``."""
TOKEN_MODALITY_UNKNOWN: Final = "unknown"
"""What every count is reported under: neither SDK's usage splits all tokens by modality."""

METRIC_INFERENCE_DURATION: Final = "gen_ai.client.inference.duration"
METRIC_INFERENCE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.inference.time_to_first_chunk"
METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.inference.time_per_output_chunk"
METRIC_INFERENCE_USAGE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.input_tokens"
METRIC_INFERENCE_USAGE_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.output_tokens"
METRIC_INFERENCE_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_read.input_tokens"
METRIC_INFERENCE_USAGE_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.client.inference.usage.cache_write.input_tokens"
METRIC_INFERENCE_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.client.inference.usage.reasoning.output_tokens"
METRIC_INFERENCE_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.inference.operation.input_tokens"
METRIC_INFERENCE_OPERATION_OUTPUT_TOKENS: Final = "gen_ai.client.inference.operation.output_tokens"
METRIC_EMBEDDINGS_DURATION: Final = "gen_ai.client.embeddings.duration"
METRIC_EMBEDDINGS_OPERATION_INPUT_TOKENS: Final = "gen_ai.client.embeddings.operation.input_tokens"

SCHEMA_URL_LATEST: Final = "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"
"""The dev channel's schema URL (``RELEASING.md``: ``…/gen-ai-dev/X.Y.Z-dev``), at the version the conventions'
manifest names."""

INFERENCE_OPERATIONS: Final = frozenset(
    {_ga.GenAiOperationNameValues.CHAT.value, _ga.GenAiOperationNameValues.TEXT_COMPLETION.value,
     _ga.GenAiOperationNameValues.GENERATE_CONTENT.value}
)  # fmt: skip
"""Operations whose metrics the latest conventions rename to ``gen_ai.client.inference.*``."""
EMBEDDINGS_OPERATION: Final = _ga.GenAiOperationNameValues.EMBEDDINGS.value
"""The operation with its own ``gen_ai.client.embeddings.*`` metrics in the latest conventions."""

LATEST: Final[Mapping[str, str]] = MappingProxyType(
    {
        # span and event attributes
        USAGE_CACHE_CREATION_INPUT_TOKENS: USAGE_CACHE_WRITE_INPUT_TOKENS,
        # scope
        SCHEMA_URL: SCHEMA_URL_LATEST,
        # metrics of the inference operations (chat, text_completion, generate_content)
        METRIC_OPERATION_DURATION: METRIC_INFERENCE_DURATION,
        METRIC_TIME_TO_FIRST_CHUNK: METRIC_INFERENCE_TIME_TO_FIRST_CHUNK,
        METRIC_TIME_PER_OUTPUT_CHUNK: METRIC_INFERENCE_TIME_PER_OUTPUT_CHUNK,
    }
)
"""Released (v1.41) name → its name in the latest conventions; any other name is the same in both. What the
latest set adds instead of ``gen_ai.client.token.usage`` (per-direction counters, per-operation histograms,
embeddings' own instruments) are the latest-only names above."""


LATEST_TYPES: Final[Mapping[str, type]] = MappingProxyType({REQUEST_TOP_K: int})
"""Attributes whose value type the latest conventions change (``client-inference.md``: ``gen_ai.request.top_k`` is
an int there, a double in v1.41)."""


def named(name: str, latest: bool) -> str:
    """``name`` (a released name) as the chosen conventions spell it."""
    return LATEST.get(name, name) if latest else name


# --- Names with no constant in opentelemetry-semantic-conventions ---
EVENT_INFERENCE_DETAILS: Final = "gen_ai.client.inference.operation.details"
"""Opt-in event carrying the content attributes (gen-ai-events.md); no constant exists for event names."""

HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
"""Stable HTTP key, spelled here so this module stays the single place for names."""

REQUEST_PREVIOUS_RESPONSE_ID: Final = "gen_ai.request.previous_response.id"
"""Unreleased (GenAI conventions ``main``, client-inference.md): the OpenAI Responses ``previous_response_id``."""

OPERATION_FETCH_RESPONSE: Final = "fetch_response"
"""Unreleased well-known operation value (GenAI conventions ``main``) for reading back a stored response; under
v1.41 it is a custom value. Such an operation reports no token usage: the tokens belong to the call that made it."""

# --- Anthropic: the keys the SDK's own spans use, kept so queries written against them keep working ---
ANTHROPIC_REQUEST_SERVICE_TIER: Final = "anthropic.request.service_tier"
"""The ``service_tier`` asked for (``auto``, ``standard_only``)."""
ANTHROPIC_RESPONSE_SERVICE_TIER: Final = "anthropic.response.service_tier"
"""The tier that served the call (``usage.service_tier``: ``standard``, ``priority``, ``batch``)."""
ANTHROPIC_THINKING_TYPE: Final = "anthropic.thinking.type"
"""Extended thinking as requested: ``enabled``, ``disabled``, ``adaptive``."""
ANTHROPIC_THINKING_BUDGET_TOKENS: Final = "anthropic.thinking.budget_tokens"
"""The thinking token budget requested."""
ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS: Final = "anthropic.message.count_tokens.input_tokens"
"""What ``messages.count_tokens`` answered. Deliberately not ``gen_ai.usage.input_tokens``: counting uses none."""
REQUEST_REASONING_LEVEL: Final = "gen_ai.request.reasoning.level"
"""Unreleased (GenAI conventions ``main``): the effort asked for, ``output_config.effort`` here."""

# aigw-trace's own keys: one documented prefix, never mixed with GenAI names. (Which span is the client's, for
# counting usage once beside a gateway's GenAI span, is what the instrumentation scope `aigw_trace` already says.)

AIGW_STREAM_OUTCOME: Final = "aigw.stream.outcome"
"""How a stream ended: ``completed``, ``closed`` (caller stopped early), ``abandoned`` (garbage-collected) or
``error``."""

AIGW_RESPONSE_HEADER_PREFIX: Final = "aigw.response.header."
"""Allow-listed gateway response headers, recorded raw: ``aigw.response.header.x-litellm-call-id``."""

AIGW_GATEWAY_SPAN_ID: Final = "aigw.gateway.span_id"
"""The gateway's span id, from the W3C ``traceresponse`` header it returned."""

AIGW_GATEWAY_TRACE_ID: Final = "aigw.gateway.trace_id"
"""Set only when the gateway's ``traceresponse`` names another trace (it restarted the trace); a link joins them."""

AIGW_LINK_REASON: Final = "aigw.link.reason"
"""Why a span link was added."""
