"""Waterfall views of finished spans: one block per trace, one row per span, for a terminal or as an HTML page.

Vocabulary: a *trace* here is the finished spans sharing one trace id, laid out as a tree by parent span id; a *row*
is one span in that tree, placed on the trace's own time range (its earliest start to its latest end). Both
renderers are pure functions of the spans (no I/O, no clock), so they can be tested with hand-made spans.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.trace import SpanKind, StatusCode

from . import _attributes as A

if TYPE_CHECKING:  # only annotations: the module imports without the SDK, so a missing extra can be reported
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = ["Row", "Trace", "render_html", "render_text", "traces"]

_SERVICE_NAME = "service.name"
_UNKNOWN_SERVICE = "?"

_FULL = "█"
_EIGHTHS = ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")
"""Left-aligned partial blocks by eighths: a bar's end is drawn at 1/8-cell precision (its start, cell-aligned)."""

_MIN_BAR = 20
"""The bar column never gets narrower than this; the details are cut, or moved to a line of their own, first."""
_MAX_BAR = 64
"""Nor wider: past this a wide terminal gives the details their room instead."""
_MIN_DETAILS = 24
"""Fewer columns than this left for the details after the bar: they go on a line of their own under the row."""
_MAX_NAME = 44
"""Span names (with their tree guides) longer than this are shortened with an ellipsis."""
_DURATION_WIDTH = 8
"""``12345 ms``, right-aligned."""
_GAP = "  "

_RESET = "\x1b[0m"
_BOLD = "\x1b[1m"
_DIM = "\x1b[2m"
_RED = "\x1b[31m"
_SERVICE_COLOURS = ("\x1b[36m", "\x1b[35m", "\x1b[33m", "\x1b[32m", "\x1b[34m")
"""ANSI foregrounds given to services in the order they first appear (cyan for the app, then magenta, yellow, …)."""
_HTML_COLOURS = ("#0e7490", "#a21caf", "#b45309", "#15803d", "#1d4ed8")
"""The same palette for the page."""
_HTML_ERROR = "#dc2626"


@dataclass(frozen=True)
class Row:
    """One span of a trace, placed in the tree and on the trace's time range."""

    span: ReadableSpan
    depth: int
    """0 for a root (or a span whose parent is not among the spans given)."""
    guide: str
    """Tree guides drawn before the name: ``""`` for a root, ``"├─ "``/``"└─ "`` after ``"│  "``/``"   "`` per level."""
    continuation: str
    """Tree guides for a line under this row (ancestors' verticals, and this span's own when it has children)."""
    service: str
    start: float
    """Where the span starts, as a fraction of the trace's time range."""
    length: float
    """How long it lasts, as a fraction of the trace's time range."""
    duration_ms: float
    details: tuple[str, ...]
    """Key attributes, short and readable: ``tokens 12 in / 5 out``, ``ttfc 31.0 ms``, ``HTTP 429``, …"""
    error: bool


@dataclass(frozen=True)
class Trace:
    """The rows of one trace, depth-first, siblings by start time."""

    trace_id: int
    rows: tuple[Row, ...]
    duration_ms: float

    @property
    def services(self) -> tuple[str, ...]:
        """Services in the order their first span appears in the tree."""
        return tuple(dict.fromkeys(row.service for row in self.rows))


def traces(spans: Sequence[ReadableSpan]) -> list[Trace]:
    """Group finished spans by trace id and lay each trace out as a tree; traces ordered by start time."""
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans:
        if span.context is not None:
            by_trace.setdefault(span.context.trace_id, []).append(span)
    laid_out = [_lay_out(trace_id, members) for trace_id, members in by_trace.items()]
    return sorted(laid_out, key=lambda t: _start(t.rows[0].span) if t.rows else 0)


def _start(span: ReadableSpan) -> int:
    return span.start_time or 0


def _end(span: ReadableSpan) -> int:
    return span.end_time or span.start_time or 0


def _span_id(span: ReadableSpan) -> int:
    return span.context.span_id if span.context is not None else 0


def _lay_out(trace_id: int, spans: list[ReadableSpan]) -> Trace:
    ids = {_span_id(s) for s in spans}
    children: dict[int, list[ReadableSpan]] = {}
    roots: list[ReadableSpan] = []
    for span in spans:
        # A span whose parent never arrived (another process's, not exported here) still gets a row, as a root.
        if span.parent is not None and span.parent.span_id in ids:
            children.setdefault(span.parent.span_id, []).append(span)
        else:
            roots.append(span)
    for kids in children.values():
        kids.sort(key=_start)
    roots.sort(key=_start)

    begin = min(_start(s) for s in spans)
    total = max(max(_end(s) for s in spans) - begin, 1)

    def walk(span: ReadableSpan, depth: int, lead: str, last: bool) -> Iterator[Row]:
        kids = children.get(_span_id(span), [])
        below = "" if depth == 0 else lead + ("   " if last else "│  ")
        yield Row(
            span=span,
            depth=depth,
            guide="" if depth == 0 else lead + ("└─ " if last else "├─ "),
            continuation=below + ("│  " if kids else "   "),
            service=_service(span),
            start=(_start(span) - begin) / total,
            length=(_end(span) - _start(span)) / total,
            duration_ms=(_end(span) - _start(span)) / 1e6,
            details=_details(span, kids),
            error=span.status.status_code is StatusCode.ERROR,
        )
        for i, kid in enumerate(kids):
            yield from walk(kid, depth + 1, below, i == len(kids) - 1)

    rows = tuple(row for root in roots for row in walk(root, 0, "", True))
    return Trace(trace_id, rows, total / 1e6)


def _service(span: ReadableSpan) -> str:
    value = span.resource.attributes.get(_SERVICE_NAME) if span.resource is not None else None
    return str(value) if value else _UNKNOWN_SERVICE


def _details(span: ReadableSpan, children: Sequence[ReadableSpan]) -> tuple[str, ...]:
    attributes: Mapping[str, object] = span.attributes or {}
    out: list[str] = []
    request_model, response_model = attributes.get(A.REQUEST_MODEL), attributes.get(A.RESPONSE_MODEL)
    # The span name already says the requested model; a different one in the answer (a dated snapshot, a gateway's
    # fallback) is the news.
    if response_model and response_model != request_model:
        out.append(f"→ {response_model}")
    ttfc = attributes.get(A.RESPONSE_TIME_TO_FIRST_CHUNK)
    if attributes.get(A.REQUEST_STREAM) is True and not isinstance(ttfc, (int, float)):
        out.append("stream")  # a time to first chunk says so already
    tokens_in, tokens_out = attributes.get(A.USAGE_INPUT_TOKENS), attributes.get(A.USAGE_OUTPUT_TOKENS)
    if tokens_in is not None or tokens_out is not None:
        out.append(f"tokens {_or_unknown(tokens_in)} in / {_or_unknown(tokens_out)} out")
    if isinstance(ttfc, (int, float)):
        out.append(f"ttfc {_ms(ttfc * 1000)}")
    conversation = attributes.get(A.CONVERSATION_ID)
    if conversation:
        out.append(f"conv {conversation}")
    if span.kind is SpanKind.SERVER and attributes.get(A.HTTP_RESPONSE_STATUS_CODE) is not None:
        out.append(f"HTTP {attributes[A.HTTP_RESPONSE_STATUS_CODE]}")
    attempts = sum(1 for kid in children if kid.kind is SpanKind.SERVER)
    if attempts > 1:
        out.append(f"{attempts} attempts")
    if span.status.status_code is StatusCode.ERROR:
        out.append(f"✗ {attributes.get(A.ERROR_TYPE) or span.status.description or 'error'}")
    return tuple(out)


def _or_unknown(value: object) -> str:
    return "?" if value is None else str(value)


def _ms(value: float) -> str:
    return f"{value:.1f} ms" if value < 100 else f"{value:.0f} ms"


# --- terminal ---


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` columns (with an ellipsis) or padded to it."""
    if width <= 0:
        return ""
    if len(text) > width:
        return text[: width - 1] + "…"
    return text.ljust(width)


def _bar(start: float, length: float, width: int) -> str:
    """A duration bar ``width`` cells wide: blanks up to ``start``, then blocks for ``length`` (fractions of 1).

    The length is drawn to an eighth of a cell, so bars compare by duration; the start is rounded to a whole cell
    (no block fills a cell from its right by eighths). Any span gets at least one eighth: an instant stays visible.
    """
    first = min(max(round(start * width), 0), width - 1)
    eighths = min(max(1, round(length * width * 8)), (width - first) * 8)
    body = _FULL * (eighths // 8) + _EIGHTHS[eighths % 8]
    return (" " * first + body).ljust(width)


def render_text(spans: Sequence[ReadableSpan], width: int = 120, color: bool = False) -> str:
    """The waterfall of ``spans`` for a terminal ``width`` columns wide, with ANSI colours when ``color``.

    Per trace a header line (trace id, root span, duration, span count), then one row per span: service,
    tree-indented name, a duration bar on the trace's time range, duration, key attributes. When the terminal is too
    narrow for the key attributes beside the bar, they go on a line of their own under the row. Ends with a newline.
    """
    laid_out = traces(spans)
    rows = [row for trace in laid_out for row in trace.rows]
    if not rows:
        return "(no spans)\n"
    services = list(dict.fromkeys(row.service for row in rows))
    service_width = max(len(s) for s in services)
    name_width = min(max(len(row.guide) + len(row.span.name) for row in rows), _MAX_NAME)
    details_width = max(len(" · ".join(row.details)) for row in rows)
    room = width - (service_width + name_width + _DURATION_WIDTH + 3 * len(_GAP))
    if room - len(_GAP) - details_width >= _MIN_BAR:
        bar_width, details_room, beside = min(_MAX_BAR, room - len(_GAP) - details_width), details_width, True
    elif room - len(_GAP) - _MIN_BAR >= _MIN_DETAILS:
        bar_width, details_room, beside = _MIN_BAR, room - len(_GAP) - _MIN_BAR, True
    else:
        bar_width, beside = max(_MIN_BAR, min(_MAX_BAR, room)), False
        details_room = width - service_width - len(_GAP)

    def paint(text: str, *codes: str) -> str:
        return "".join(codes) + text + _RESET if color and codes and text.strip() else text

    lines: list[str] = []
    for trace in laid_out:
        root = trace.rows[0].span.name
        header = f"trace {trace.trace_id:032x} · {root} · {_ms(trace.duration_ms)} · {len(trace.rows)} spans"
        lines.append(paint(_fit(header, width).rstrip(), _BOLD))
        for row in trace.rows:
            colour = _SERVICE_COLOURS[services.index(row.service) % len(_SERVICE_COLOURS)]
            name = _fit(row.guide + row.span.name, name_width)
            guide, label = name[: len(row.guide)], name[len(row.guide) :]
            cells = [
                paint(_fit(row.service, service_width), colour),
                paint(guide, _DIM) + label,
                paint(_bar(row.start, row.length, bar_width), _RED if row.error else colour),
                _ms(row.duration_ms).rjust(_DURATION_WIDTH),
            ]
            details = " · ".join(row.details)
            if beside:
                text = _fit(details, details_room).rstrip()
                cells.append(paint(text, _RED) if row.error else text)
            lines.append(_GAP.join(cells).rstrip())
            if details and not beside:
                text = _fit(row.continuation + details, details_room).rstrip()
                guides, rest = text[: len(row.continuation)], text[len(row.continuation) :]
                lines.append(
                    " " * service_width + _GAP + paint(guides, _DIM) + (paint(rest, _RED) if row.error else rest)
                )
        lines.append("")
    return "\n".join(lines)


# --- HTML ---

_CSS = """
body{font:14px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;margin:2rem;color:#1f2937;background:#fff}
h1{font-size:1.2rem}h2{font-size:1rem;margin:1.6rem 0 .4rem;font-weight:600}
.trace{border:1px solid #e5e7eb;border-radius:6px;padding:.4rem .6rem}
.row{display:grid;grid-template-columns:8rem 22rem minmax(12rem,2fr) 6rem minmax(24rem,1.4fr);gap:.8rem;
align-items:center;padding:.1rem 0}
.row:hover{background:#f3f4f6}
.head{color:#6b7280;border-bottom:1px solid #e5e7eb;margin-bottom:.2rem}
.name{white-space:pre;overflow:hidden;text-overflow:ellipsis}
.guide{color:#9ca3af}
.track{position:relative;height:.9rem;background:#f9fafb}
.bar{position:absolute;top:0;bottom:0;min-width:2px;border-radius:2px}
.dur{text-align:right}
.details{color:#374151;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.error .details{color:#dc2626}
@media (prefers-color-scheme:dark){body{color:#e5e7eb;background:#111827}.trace{border-color:#374151}
.row:hover{background:#1f2937}.track{background:#1f2937}.details{color:#d1d5db}}
"""


def _tooltip(row: Row) -> str:
    """Every attribute of the span, for the row's ``title``: the page shows the key ones, hovering shows all."""
    context = row.span.context
    lines = [f"{row.span.name} ({row.span.kind.name}, {row.service})"]
    if context is not None:
        lines.append(f"span_id {context.span_id:016x}")
    lines.extend(f"{key} = {_value(value)}" for key, value in sorted((row.span.attributes or {}).items()))
    return "\n".join(lines)


def _value(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_value(v) for v in value)
    return repr(value) if isinstance(value, bytes) else str(value)


def render_html(spans: Sequence[ReadableSpan], title: str = "aigw-trace waterfall") -> str:
    """The same waterfall as one self-contained HTML page: inline CSS, no script, no external asset."""
    laid_out = traces(spans)
    services = list(dict.fromkeys(row.service for trace in laid_out for row in trace.rows))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for trace in laid_out:
        root = trace.rows[0].span.name
        out.append(
            f"<h2>trace <code>{trace.trace_id:032x}</code> · {html.escape(root)} · {_ms(trace.duration_ms)} · "
            f"{len(trace.rows)} spans</h2>"
        )
        out.append('<div class="trace">')
        out.append(
            '<div class="row head"><span>service</span><span>span</span><span>timeline</span>'
            '<span class="dur">duration</span><span>details</span></div>'
        )
        for row in trace.rows:
            colour = _HTML_COLOURS[services.index(row.service) % len(_HTML_COLOURS)]
            left, width = 100 * row.start, 100 * row.length
            out.append(
                f'<div class="row{" error" if row.error else ""}" title="{html.escape(_tooltip(row))}">'
                f'<span style="color:{colour}">{html.escape(row.service)}</span>'
                f'<span class="name"><span class="guide">{html.escape(row.guide)}</span>'
                f"{html.escape(row.span.name)}</span>"
                f'<span class="track"><span class="bar" style="left:{left:.3f}%;width:{width:.3f}%;'
                f'background:{_HTML_ERROR if row.error else colour}"></span></span>'
                f'<span class="dur">{_ms(row.duration_ms)}</span>'
                f'<span class="details">{html.escape(" · ".join(row.details))}</span>'
                "</div>"
            )
        out.append("</div>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
