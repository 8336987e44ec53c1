"""What aigw-trace knows about AI gateways: their response headers, W3C ``traceresponse``, and where to inject.

Gateway headers are recorded raw under one prefix rather than mapped onto GenAI keys: ``x-litellm-model-name``,
for instance, is the gateway's routing name, not ``gen_ai.response.model``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.trace import Span, SpanContext
    from opentelemetry.util.types import AttributeValue

# `import aigw_trace` loads this module (the options table checks header names with it), so it imports neither the
# OpenTelemetry API nor the attribute keys (the semantic-conventions package) at module level: the functions that
# need them import them when they run, at instrument() time or on the rare response that carries `traceresponse`.

PRESETS: Mapping[str, tuple[str, ...]] = {
    "litellm": (
        "x-litellm-call-id",
        "x-litellm-model-id",
        "x-litellm-model-group",
        "x-litellm-response-cost",
        "x-litellm-response-duration-ms",
        "x-litellm-overhead-duration-ms",
        "x-litellm-attempted-retries",
        "x-litellm-attempted-fallbacks",
    ),
    "envoy": ("x-envoy-upstream-service-time",),
    "kong": ("x-kong-upstream-latency", "x-kong-proxy-latency", "x-kong-upstream-status"),
    "portkey": (
        "x-portkey-trace-id",
        "x-portkey-retry-attempt-count",
        "x-portkey-cache-status",
        "x-portkey-last-used-option-index",
    ),
    "cloudflare": ("cf-aig-cache-status", "cf-aig-log-id", "cf-aig-event-id"),
}
"""Response headers worth keeping per gateway (``AIGW_TRACE_GATEWAY``), from each gateway's documentation."""

_SECRETISH = re.compile(r"auth|key|token|secret|cookie|passw|credential|jwt|bearer|signature", re.IGNORECASE)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
"""An HTTP field name (RFC 9110 token), lower case."""


def header_problem(header: str) -> str | None:
    """Why the response header ``header`` (lower case) must not be recorded, or ``None`` when it may be."""
    if not _TOKEN.fullmatch(header):
        return "not an HTTP header name"
    if _SECRETISH.search(header):
        return "it may carry a credential"
    return None


def header_names(presets: Iterable[str], extra: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """(header, attribute key) pairs for the chosen presets and extra headers, resolved once.

    Unknown presets raise ``ValueError`` (a typo would silently record nothing); header names that look like
    credentials are refused the same way, since response headers may echo them.
    """
    names: list[str] = []
    for preset in presets:
        key = preset.strip().lower()
        if not key:
            continue
        if key not in PRESETS:
            raise ValueError(f"unknown gateway preset {preset!r}; known: {', '.join(sorted(PRESETS))}")
        names.extend(PRESETS[key])
    for header in extra:
        header = header.strip().lower()
        if not header:
            continue
        problem = header_problem(header)
        if problem:
            raise ValueError(f"refusing to record response header {header!r}: {problem}")
        names.append(header)
    from ._attributes import AIGW_RESPONSE_HEADER_PREFIX

    return tuple((h, AIGW_RESPONSE_HEADER_PREFIX + h) for h in dict.fromkeys(names))


def parse_traceresponse(value: str) -> SpanContext | None:
    """The gateway's span from ``traceresponse: 00-<trace id>-<span id>-<flags>``; ``None`` if malformed."""
    parts = value.strip().split("-")
    if len(parts) != 4 or parts[0] != "00" or len(parts[1]) != 32 or len(parts[2]) != 16 or len(parts[3]) != 2:
        return None
    try:
        trace_id, span_id, flags = int(parts[1], 16), int(parts[2], 16), int(parts[3], 16)
    except ValueError:
        return None
    if not trace_id or not span_id:
        return None
    from opentelemetry.trace import SpanContext, TraceFlags

    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(flags))


LOWER_KEY = itemgetter(1)
"""The lower-case name of one entry of an httpx ``Headers``' ``_list`` (when :data:`FLAT_HEADERS` says it has one)."""
TRACERESPONSE = b"traceresponse"

FLAT_HEADERS: dict[type, bool] = {}
"""Headers classes seen → whether they are httpx's or httpx2's ``Headers`` with all their state in ``_list``, a list
of (raw name, lower-case name, value) byte triples (probed once per class by :func:`flat_headers`). For those, a name
is looked for among the lower-case names at C level (``in map(...)``), where the class's own ``__contains__`` and
``get_list`` each run two or three Python frames and scan every header, on every response."""


def flat_headers(cls: type) -> bool:
    """Whether ``cls`` is a ``Headers`` class of httpx or httpx2 laid out as :data:`FLAT_HEADERS` says: probed on
    instances of its own (a name set through the class reads back as a triple, a triple appended reads back through
    ``get``, ``in`` and ``raw``), so a release that keeps anything else beside ``_list`` answers False and its
    headers are read through their public methods."""
    ok = FLAT_HEADERS.get(cls)
    if ok is not None:
        return ok
    ok = False
    if cls.__name__ == "Headers" and str(getattr(cls, "__module__", "")).split(".")[0] in ("httpx", "httpx2"):
        try:
            probe = cls({"X-Probe": "v"})
            appended = cls()
            appended._list.append((b"x-probe", b"x-probe", b"w"))
            ok = (
                probe._list == [(b"X-Probe", b"x-probe", b"v")]
                and appended.get("X-Probe") == "w"
                and "x-PROBE" in appended
                and appended.get_list("x-probe") == ["w"]
                and list(appended.raw) == [(b"x-probe", b"w")]
            )
        except Exception:
            ok = False
    if len(FLAT_HEADERS) < 16:
        FLAT_HEADERS[cls] = ok
    return ok


def _header(headers: Any, get_list: Any, name: str, present: Any) -> str | None:
    # httpx's `get` raises and catches a KeyError for every absent header, and most responses have none of these.
    if get_list is None:
        value = headers.get(name)
        return value if isinstance(value, str) else None
    if present is not None and name.encode("latin-1") not in present:
        return None
    values = get_list(name)
    return ", ".join(values) if values else None


def read_response_headers(
    span: Span,
    headers: Any,
    wanted: tuple[tuple[str, str], ...],
    traceresponse: bool,
    attrs: dict[str, AttributeValue],
) -> None:
    """Add the allow-listed gateway headers, and what ``traceresponse`` says, to ``attrs`` (a link to the gateway's
    trace goes on ``span`` directly)."""
    get_list = getattr(headers, "get_list", None)
    flat = get_list is not None and flat_headers(headers.__class__)  # probed on the first response of its class
    # The lower-case names present, read once, when the headers are httpx's and several are looked for.
    present = set(map(LOWER_KEY, headers._list)) if wanted and flat else None
    for header, key in wanted:
        value = _header(headers, get_list, header, present)
        if value is not None:
            attrs[key] = value
    if traceresponse:
        value = _header(headers, get_list, "traceresponse", present)
        gateway = parse_traceresponse(value) if value else None
        if gateway is not None:
            from . import _attributes as A

            attrs[A.AIGW_GATEWAY_SPAN_ID] = format(gateway.span_id, "016x")
            if gateway.trace_id != span.get_span_context().trace_id:
                # The gateway restarted the trace: link to it so the two traces stay connected.
                attrs[A.AIGW_GATEWAY_TRACE_ID] = format(gateway.trace_id, "032x")
                span.add_link(gateway, {A.AIGW_LINK_REASON: "gateway traceresponse"})


class HostFilter:
    """Which request hosts may receive trace headers: exact names and ``*.suffix`` wildcards."""

    def __init__(self, patterns: Iterable[str]) -> None:
        exact: set[str] = set()
        suffixes: list[str] = []
        for raw in patterns:
            pattern = raw.strip().lower()
            if pattern.startswith("*."):
                suffixes.append(pattern[1:])
            elif pattern:
                exact.add(pattern)
        self._exact = frozenset(exact)
        self._suffixes = tuple(suffixes)
        # Hosts seen are few (the gateways an app talks to); the cache bound keeps odd absolute URLs harmless.
        self.allows = functools.lru_cache(maxsize=256)(self._allows)

    def _allows(self, host: str) -> bool:
        host = host.lower()
        return host in self._exact or host.endswith(self._suffixes)
