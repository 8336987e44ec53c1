"""The options table: every ``instrument()`` option once, with its type, default, environment variable, accepted
spellings and a one-line doc.

``instrument()``'s keyword signature, ``Settings`` (``_config.py``), environment parsing and
``docs/configuration.md`` all follow :data:`OPTIONS`; ``tests/test_options.py`` fails when one of them drifts.
After changing the table: ``python -c "import aigw_trace._options as o; o.update_docs()"``.
"""

from __future__ import annotations

import enum
import importlib
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._gateway_headers import PRESETS, header_problem


class ContentMode(enum.Enum):
    """Where prompt and completion content goes. Content is never captured unless asked for."""

    NO_CONTENT = "no_content"
    SPAN_ONLY = "span_only"
    EVENT_ONLY = "event_only"
    SPAN_AND_EVENT = "span_and_event"

    @property
    def on_span(self) -> bool:
        return self in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT)


MIN_CONTENT_MAX_LENGTH = 64
"""The smallest ``content_max_length``: room for the truncation marker, so bounded content stays valid JSON."""


class Kind:
    """How an option's value is checked when passed as a keyword and read from its environment variable.

    ``keyword()`` raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with a short detail;
    ``env()`` raises ``ValueError`` when nothing usable is left and calls ``warn`` for parts it drops.
    """

    annotation = ""
    """As written in ``instrument()``'s signature."""
    accepted = ""
    """Accepted keyword values, for errors and docs."""
    env_accepted = ""
    """Accepted environment spellings, for warnings and docs."""

    def keyword(self, value: object) -> object:
        raise NotImplementedError

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        raise NotImplementedError

    def show(self, value: object) -> str:
        """``value`` as the environment would spell it."""
        return str(value)


class _Bool(Kind):
    annotation = "bool | None"
    accepted = "True or False"
    env_accepted = "`true`, `false` (any case)"

    def keyword(self, value: object) -> object:
        # A string is never a bool here: "false" is truthy, and propagate="false" must not mean "inject".
        if isinstance(value, bool):
            return value
        raise TypeError(f"a {type(value).__name__} is not a bool")

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("")

    def show(self, value: object) -> str:
        return str(value).lower()


_MODES = {mode.value: mode for mode in ContentMode}
_ENV_MODES = {**_MODES, "true": ContentMode.SPAN_ONLY, "false": ContentMode.NO_CONTENT}  # the OTel env spelling


class _Content(Kind):
    annotation = "ContentMode | str | bool | None"
    accepted = "a ContentMode, its name (" + ", ".join(f'"{m}"' for m in _MODES) + ", any case), True or False"
    env_accepted = ", ".join(f"`{m}`" for m in _MODES) + " (any case); `true` = `span_only`, `false` = `no_content`"

    def keyword(self, value: object) -> object:
        if isinstance(value, ContentMode):
            return value
        if isinstance(value, bool):
            return ContentMode.SPAN_ONLY if value else ContentMode.NO_CONTENT
        if not isinstance(value, str):
            raise TypeError(f"a {type(value).__name__} is not a content mode")
        mode = _MODES.get(value.strip().lower())
        if mode is None:
            raise ValueError("unknown content capture mode")
        return mode

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        mode = _ENV_MODES.get(text.lower())
        if mode is None:
            raise ValueError("unknown content capture mode")
        return mode

    def show(self, value: object) -> str:
        return value.value if isinstance(value, ContentMode) else str(value)


class _Length(Kind):
    annotation = "int | None"
    accepted = f"an int ≥ {MIN_CONTENT_MAX_LENGTH}"
    env_accepted = f"a decimal integer ≥ {MIN_CONTENT_MAX_LENGTH}"

    def keyword(self, value: object) -> object:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"a {type(value).__name__} is not an int")
        value = operator.index(value)  # an int, or an int-like such as numpy.int64
        if value < MIN_CONTENT_MAX_LENGTH:
            raise ValueError(f"below {MIN_CONTENT_MAX_LENGTH}")
        return value

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        if not text.isdecimal() or not text.isascii():
            raise ValueError("")
        value = int(text)
        if value < MIN_CONTENT_MAX_LENGTH:
            raise ValueError("")
        return value


def _raise(problem: str) -> None:
    raise ValueError(problem)


class _Names(Kind):
    """A list of names: a comma-separated string or an iterable of strings, stored as a tuple of lower-case names."""

    annotation = "str | Iterable[str] | None"

    def __init__(self, what: str, accepted: str, problem: Callable[[str], str | None]) -> None:
        self.what = what
        self.accepted = f"{accepted}, as a list or a comma-separated string"
        self.env_accepted = f"{accepted}, comma-separated"
        self.problem = problem

    def keyword(self, value: object) -> object:
        if isinstance(value, str):
            return self._names(value.split(","), _raise)
        if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
            return self._names(value, _raise)
        raise TypeError(f"a {type(value).__name__} is not a str or a list of str")

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        # Drop only a bad name: one bad entry must not turn off the others.
        return self._names(text.split(","), lambda problem: warn(f"dropping {problem}"))

    def _names(self, items: Iterable[object], bad: Callable[[str], None]) -> tuple[str, ...]:
        names = []
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"{item!r} is not a str")
            name = item.strip().lower()
            problem = self.problem(name) if name else None
            if problem:
                bad(f"{self.what} {name!r}: {problem}")
            elif name:
                names.append(name)
        return tuple(dict.fromkeys(names))

    def show(self, value: object) -> str:
        return ",".join(value) if isinstance(value, tuple) else str(value)


class _Hook(Kind):
    def __init__(self, annotation: str, params: str) -> None:
        self.annotation = f"{annotation} | None"
        self.accepted = f"a callable ({params}) -> None"
        self.env_accepted = "an import path `package.module:function`"

    def keyword(self, value: object) -> object:
        if not callable(value):
            raise TypeError(f"a {type(value).__name__} is not callable")
        return value

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        module_name, sep, qualname = text.partition(":")
        if not sep or not module_name or not qualname:
            raise ValueError("not of the form package.module:function")
        try:
            found: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except Exception as exc:  # an ImportError, or anything the module raises while importing
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        if not callable(found):
            raise ValueError(f"{qualname} is not callable")
        return found


_HOST = re.compile(r"(\*\.)?[^\s/*:@]+|[0-9a-f:]+")  # a host name or IP address, optionally `*.suffix`; no URL


def _host_problem(pattern: str) -> str | None:
    return None if _HOST.fullmatch(pattern) else "not a host name or *.suffix (no scheme, port or path)"


def _preset_problem(preset: str) -> str | None:
    return None if preset in PRESETS else "unknown gateway preset"


def _session_header_problem(header: str) -> str | None:
    problem = header_problem(header)
    # Sending the conversation id under a credential-like name is odd but harmless; only the syntax matters here.
    return problem if problem == "not an HTTP header name" else None


BOOL = _Bool()


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
        _Content(),
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
        _Length(),
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
        "also record GenAI metrics for a call made inside another instrumentation's GenAI client span (a "
        "framework's own); by default that instrumentation's metrics count the call, so none is counted twice",
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
        _Names("host", "host names or `*.suffix` wildcards", _host_problem),
        (),
        "AIGW_TRACE_INJECT_HOSTS",
        "inject only into requests to these hosts; none: wherever the SDK sends",
        "inject_hosts",
    ),
    Option(
        "gateway",
        _Names("gateway preset", ", ".join(f"`{p}`" for p in PRESETS), _preset_problem),
        (),
        "AIGW_TRACE_GATEWAY",
        "record these gateways' response headers (under `aigw.response.header.`)",
        "response_headers",
    ),
    Option(
        "response_headers",
        _Names("response header", "header names (not credential-like ones)", header_problem),
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
        _Names("session header", "header names", _session_header_problem),
        (),
        "AIGW_TRACE_SESSION_HEADERS",
        "also send the scoped conversation id in these request headers",
        "session_headers",
    ),
    Option(
        "request_hook",
        _Hook("RequestHook", "span, RequestInfo"),
        None,
        "AIGW_TRACE_REQUEST_HOOK",
        "called right after a call's span starts; a hook that raises is logged and ignored",
        "request_hook",
    ),
    Option(
        "response_hook",
        _Hook("ResponseHook", "span, ResponseInfo"),
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
