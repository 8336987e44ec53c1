"""The options table: every ``instrument()`` option once, with its kind (type and accepted spellings, see
``_option_kinds``), default, environment variable and a one-line doc.

``instrument()``'s keyword signature, ``Settings`` (``_config.py``), environment parsing and
``docs/configuration.md`` all follow :data:`OPTIONS`; ``tests/test_options.py`` fails when one of them drifts.
After changing the table: ``python -c "import aigw_trace._options as o; o.update_docs()"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._gateway_headers import PRESETS, header_problem
from ._option_kinds import (
    BOOL,
    MIN_CONTENT_MAX_LENGTH,
    ContentKind,
    ContentMode,
    HookKind,
    Kind,
    LengthKind,
    NamesKind,
    host_problem,
    preset_problem,
    session_header_problem,
)

__all__ = [
    "BY_NAME",
    "MIN_CONTENT_MAX_LENGTH",
    "OPTIONS",
    "ContentMode",
    "Option",
    "docstring",
    "markdown_table",
    "update_docs",
    "with_table",
]


@dataclass(frozen=True)
class Option:
    """One option of ``instrument()``."""

    name: str
    kind: Kind
    default: object
    """The value when neither the keyword nor the environment variable gives one (``None``: derived, see doc)."""
    env: str
    doc: str
    setting: str
    """The ``Settings`` field this option feeds."""
    default_doc: str = ""
    """The default as the docs say it, when ``kind.show(default)`` is not enough."""

    @property
    def shown_default(self) -> str:
        if self.default_doc:
            return self.default_doc
        return "none" if self.default in ((), None) else f"`{self.kind.show(self.default)}`"


OPTIONS: tuple[Option, ...] = (
    Option(
        "capture_content",
        ContentKind(),
        ContentMode.NO_CONTENT,
        "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        "where prompt and completion content goes: nowhere, span attributes, log events, or both",
        "content",
    ),
    Option(
        "emit_event",
        BOOL,
        None,
        "OTEL_INSTRUMENTATION_GENAI_EMIT_EVENT",
        "emit `gen_ai.client.inference.operation.details` log events (with content in the `event` modes)",
        "emit_event",
        default_doc="`true` for the `event_only` and `span_and_event` modes, else `false`",
    ),
    Option(
        "content_max_length",
        LengthKind(),
        65536,
        "AIGW_TRACE_CONTENT_MAX_LENGTH",
        "max characters of each content attribute on a span; longer content is shortened and stays valid JSON",
        "content_max_length",
    ),
    Option(
        "time_per_output_chunk",
        BOOL,
        False,
        "AIGW_TRACE_TIME_PER_OUTPUT_CHUNK",
        "record `gen_ai.client.operation.time_per_output_chunk`, one histogram record per streamed chunk (costly)",
        "time_per_output_chunk",
    ),
    Option(
        "stream_usage",
        BOOL,
        False,
        "AIGW_TRACE_STREAM_USAGE",
        "ask OpenAI chat and completion streams for their token usage (`stream_options.include_usage`) when the "
        "caller did not; the extra usage chunk is kept from the app",
        "stream_usage",
    ),
    Option(
        "metrics_under_genai_spans",
        BOOL,
        False,
        "AIGW_TRACE_METRICS_UNDER_GENAI_SPANS",
        "also record GenAI metrics for a call another instrumentation records them for: one made inside its GenAI "
        "client span (a framework's own, e.g. pydantic-ai's), or a litellm call whose `otel` callback has metrics "
        "on; by default that instrumentation's metrics count the call, so none is counted twice",
        "metrics_under_genai_spans",
    ),
    Option(
        "propagate",
        BOOL,
        True,
        "AIGW_TRACE_PROPAGATE",
        "inject the trace context into every HTTP attempt; `false` keeps the spans and injects nothing",
        "propagate",
    ),
    Option(
        "inject_hosts",
        NamesKind("host", "host names or `*.suffix` wildcards", host_problem),
        (),
        "AIGW_TRACE_INJECT_HOSTS",
        "inject only into requests to these hosts; none: wherever the SDK sends",
        "inject_hosts",
    ),
    Option(
        "gateway",
        NamesKind("gateway preset", ", ".join(f"`{p}`" for p in PRESETS), preset_problem),
        (),
        "AIGW_TRACE_GATEWAY",
        "record these gateways' response headers (under `aigw.response.header.`)",
        "response_headers",
    ),
    Option(
        "response_headers",
        NamesKind("response header", "header names (not credential-like ones)", header_problem),
        (),
        "AIGW_TRACE_RESPONSE_HEADERS",
        "record these response headers too (names that look like credentials are refused)",
        "response_headers",
    ),
    Option(
        "traceresponse",
        BOOL,
        True,
        "AIGW_TRACE_TRACERESPONSE",
        "read the gateway's W3C `traceresponse`; link to a trace the gateway restarted",
        "traceresponse",
    ),
    Option(
        "session_baggage",
        BOOL,
        False,
        "AIGW_TRACE_SESSION_BAGGAGE",
        "send the scoped conversation id as baggage `session.id`",
        "session_baggage",
    ),
    Option(
        "session_headers",
        NamesKind("session header", "header names", session_header_problem),
        (),
        "AIGW_TRACE_SESSION_HEADERS",
        "also send the scoped conversation id in these request headers",
        "session_headers",
    ),
    Option(
        "request_hook",
        HookKind("RequestHook", "span, RequestInfo"),
        None,
        "AIGW_TRACE_REQUEST_HOOK",
        "called right after a call's span starts; a hook that raises is logged and ignored",
        "request_hook",
    ),
    Option(
        "response_hook",
        HookKind("ResponseHook", "span, ResponseInfo"),
        None,
        "AIGW_TRACE_RESPONSE_HOOK",
        "called right before a call's span ends; a hook that raises is logged and ignored",
        "response_hook",
    ),
)

BY_NAME: Mapping[str, Option] = {option.name: option for option in OPTIONS}

_BEGIN = "<!-- options table: generated from src/aigw_trace/_options.py by its update_docs() -->"
_END = "<!-- end of options table -->"


def markdown_table() -> str:
    """The options table as markdown, between the markers ``docs/configuration.md`` keeps it in."""
    rows = [
        _BEGIN,
        "",
        "| Option | Type | Default | Environment variable | Accepted there | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for o in OPTIONS:
        rows.append(
            f"| `{o.name}` | `{o.kind.annotation.replace('|', chr(92) + '|')}` | {o.shown_default} | `{o.env}` "
            f"| {o.kind.env_accepted} | {o.doc} |"
        )
    rows += ["", _END]
    return "\n".join(rows)


def with_table(document: str) -> str:
    """``document`` with the text between the table markers replaced by the current table."""
    head, begin, rest = document.partition(_BEGIN)
    _, end, tail = rest.partition(_END)
    if not begin or not end:
        raise ValueError("the document has no options table markers")
    return head + markdown_table() + tail


def docstring() -> str:
    """The options as a reST list, appended to ``instrument()``'s docstring."""
    return "\n".join(
        f"    - ``{o.name}`` (``{o.env}``, default {o.shown_default.replace('`', '')}): {o.doc}." for o in OPTIONS
    )


def update_docs(path: str = "docs/configuration.md") -> None:
    """Rewrite the options table in ``path`` (a maintainer's tool, run from the repository root)."""
    with open(path, encoding="utf-8") as f:
        updated = with_table(f.read())
    with open(path, "w", encoding="utf-8") as f:
        f.write(updated)
