"""``aigw-trace demo``: every request is one trace across app, gateway and provider, and the waterfall draws it."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from aigw_trace import _cli, _demo
from aigw_trace._waterfall import render_html, render_text, traces

SERVICES = {_demo.APP_SERVICE, _demo.GATEWAY_SERVICE, _demo.PROVIDER_SERVICE}
SUMMARY = "5 traces, 22 spans; every GenAI call joined the gateway's trace"
OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


@pytest.fixture(scope="module")
def spans() -> list[ReadableSpan]:
    return _demo.run_app()


@pytest.fixture
def no_otlp(monkeypatch):
    for name in OTLP_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def service(span: ReadableSpan) -> object:
    return span.resource.attributes.get("service.name")


def role(span: ReadableSpan) -> object:
    return span.attributes.get("aigw.gateway.role")


def children(spans, parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def app_span(spans, route: str) -> ReadableSpan:
    (span,) = [s for s in spans if s.name == route and s.parent is None]
    return span


def call_of(spans, route: str) -> ReadableSpan:
    (call,) = children(spans, app_span(spans, route))
    return call


# --- the command ---


@pytest.mark.usefixtures("no_otlp")
def test_command_draws_every_trace_writes_the_page_and_sums_up(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # wide enough that no details column is cut
    page = tmp_path / "w.html"

    assert _cli.main(["demo", "--html", str(page)]) == 0

    out = capsys.readouterr().out
    assert out.rstrip("\n").splitlines()[-1] == SUMMARY
    assert "\x1b[" not in out  # not a TTY: no colour
    headers = re.findall(r"^trace ([0-9a-f]{32}) · (\S+ \S+) ·", out, re.MULTILINE)
    assert [route for _, route in headers] == [r.route for r in _demo.REQUESTS]
    assert len({trace_id for trace_id, _ in headers}) == 5
    rows = out.splitlines()
    genai_rows = [r for r in rows if re.search(r"└─ chat (gpt-4o-mini|claude-haiku-4-5) ", r) and "demo-app" in r]
    assert len(genai_rows) == 5
    assert all("tokens 12 in / 5 out" in r for r in genai_rows)
    assert sum("ttfc " in r for r in genai_rows) == 2
    assert "conv conv-42" in out
    assert "2 attempts" in out
    assert "HTTP 429" in out
    assert f"wrote {page}" in out

    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for name in ("handle /ask", "chat gpt-4o-mini", "chat claude-haiku-4-5", "POST /v1/chat/completions"):
        assert name in html
    for external in ("http://", "https://", "<script", "<link", "src=", "@import"):
        assert external not in html


def test_subprocess_runs_as_python_m(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in OTLP_VARIABLES}
    done = subprocess.run(
        [sys.executable, "-m", "aigw_trace", "demo"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip("\n").splitlines()[-1] == SUMMARY


# --- the traces ---


def test_every_request_is_one_trace_across_app_gateway_and_provider(spans):
    assert _demo.check(spans) == []
    assert len(spans) == 22  # 4 per request, 2 more for the retry; no second (native) span per Anthropic call
    trace_ids = []
    for request in _demo.REQUESTS:
        trace_id = app_span(spans, request.route).context.trace_id
        in_trace = [s for s in spans if s.context.trace_id == trace_id]
        assert {service(s) for s in in_trace} == SERVICES, request.route
        trace_ids.append(trace_id)
    assert len(set(trace_ids)) == len(_demo.REQUESTS)
    assert {s.context.trace_id for s in spans} == set(trace_ids)  # no gateway trace of its own


def test_the_genai_span_is_the_parent_of_the_gateway_server_span(spans):
    for request in _demo.REQUESTS:
        call = call_of(spans, request.route)
        assert call.name == request.call
        assert call.kind is SpanKind.CLIENT
        assert service(call) == _demo.APP_SERVICE
        servers = children(spans, call)
        assert servers, request.route
        for server in servers:
            assert (server.kind, role(server), service(server)) == (SpanKind.SERVER, "gateway", _demo.GATEWAY_SERVICE)
            (upstream,) = children(spans, server)
            assert (role(upstream), service(upstream)) == ("upstream", _demo.PROVIDER_SERVICE)


def test_the_retried_call_shows_two_gateway_spans_429_then_200(spans):
    call = call_of(spans, "handle /translate")
    first, second = sorted(children(spans, call), key=lambda s: s.start_time)
    assert first.attributes["http.response.status_code"] == 429
    assert second.attributes["http.response.status_code"] == 200
    assert second.start_time >= first.end_time
    assert call.status.status_code is StatusCode.UNSET  # the SDK's retry succeeded: the call did not fail


def test_streams_carry_usage_and_time_to_first_chunk(spans):
    for route in ("handle /ask/stream", "handle /summarise/stream"):
        call = call_of(spans, route)
        assert call.attributes["gen_ai.request.stream"] is True
        assert call.attributes["gen_ai.usage.output_tokens"] == 5
        assert 0 < call.attributes["gen_ai.response.time_to_first_chunk"] < (call.end_time - call.start_time) / 1e9


def test_only_the_scoped_call_gets_the_conversation_id(spans):
    scoped = {r.route for r in _demo.REQUESTS if call_of(spans, r.route).attributes.get("gen_ai.conversation.id")}
    assert scoped == {"handle /ask"}
    assert call_of(spans, "handle /ask").attributes["gen_ai.conversation.id"] == _demo.CONVERSATION_ID


def test_check_names_what_is_missing(spans):
    without_retry_attempt = [
        s for s in spans if not (role(s) == "gateway" and s.attributes.get("http.response.status_code") == 429)
    ]
    problems = _demo.check(without_retry_attempt)
    assert problems == ["handle /translate: expected 2 gateway span(s) under 'chat gpt-4o-mini', found 1"]
    assert _demo.summary(without_retry_attempt, problems) == "5 traces, 21 spans; NOT joined: 1 problem above"

    without_app_span = [s for s in spans if s.name != "handle /summarise"]
    problems = _demo.check(without_app_span)
    assert problems[0] == "handle /summarise: expected one app span, found 0"
    assert problems[-1] == "1 gateway trace(s) did not join an app trace"


# --- OTLP ---


def test_endpoint_without_the_exporter_package_prints_a_hint(monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.setattr(_demo, "_OTLP_MODULE", "aigw_trace_no_such_module")
    out = io.StringIO()
    assert _demo._otlp_exporter(out) is None
    assert "pip install 'aigw-trace[otlp]'" in out.getvalue()


def test_a_missing_sdk_is_named_with_what_to_install(monkeypatch, capsys):
    monkeypatch.setattr(_demo, "_NEEDED", ("openai", "aigw_trace_no_such_sdk"))
    assert _cli.main(["demo"]) == 2
    assert capsys.readouterr().err == (
        "aigw-trace demo needs aigw_trace_no_such_sdk: pip install 'aigw-trace[openai,anthropic,sdk]'\n"
    )


def test_no_endpoint_no_exporter(no_otlp):
    assert _demo._otlp_exporter(io.StringIO()) is None


class _Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((self.path, self.headers["content-type"], body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_otlp_export_sends_every_span_with_its_service(spans, monkeypatch):
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http.trace_exporter")
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
        out = io.StringIO()
        assert _demo._export(_demo._otlp_exporter(out), spans, out)
    finally:
        server.shutdown()
        server.server_close()
    ((path, content_type, body),) = _Collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    by_service = {
        next(a.value.string_value for a in rs.resource.attributes if a.key == "service.name"): sum(
            len(ss.spans) for ss in rs.scope_spans
        )
        for rs in request.resource_spans
    }
    assert set(by_service) == SERVICES
    assert sum(by_service.values()) == len(spans)
    assert f"exported 22 spans to http://127.0.0.1:{server.server_port}/v1/traces" in out.getvalue()


# --- the renderers, on hand-made spans ---

MS = 1_000_000
TRACE = 0x0AF7651916CD43DD8448EB211C80319C
OTHER_TRACE = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def make_span(name, span_id, parent_id, start_ms, end_ms, *, service="app", trace_id=TRACE, kind=SpanKind.INTERNAL,
              attributes=None, status=None):  # fmt: skip
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    parent = SpanContext(trace_id, parent_id, is_remote=False) if parent_id else None
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=Resource({"service.name": service}),
        attributes=attributes or {},
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=1_700_000_000_000 * MS + start_ms * MS,
        end_time=1_700_000_000_000 * MS + end_ms * MS,
    )


@pytest.fixture
def hand_made():
    return [
        make_span("root", 1, None, 0, 100),
        make_span("chat gpt-4o", 2, 1, 20, 100, kind=SpanKind.CLIENT,
                  attributes={"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
                              "gen_ai.usage.input_tokens": 7, "gen_ai.usage.output_tokens": 3}),
        make_span("POST /v1/chat/completions", 3, 2, 25, 30, service="gw", kind=SpanKind.SERVER,
                  attributes={"http.response.status_code": 429}),
        make_span("POST /v1/chat/completions", 4, 2, 50, 100, service="gw", kind=SpanKind.SERVER,
                  attributes={"http.response.status_code": 200}),
        make_span("chat gpt-4o", 5, 4, 50, 75, service="llm", kind=SpanKind.CLIENT,
                  attributes={"error.type": "RateLimitError"}, status=Status(StatusCode.ERROR, "RateLimitError")),
        make_span("orphan", 6, 99, 0, 10, trace_id=OTHER_TRACE),
    ]  # fmt: skip


def rows_by_span_id(text: str, spans) -> dict[int, str]:
    """The row of each span, in tree order (rows are printed depth-first, so they match ``traces()``'s order)."""
    lines = [line for line in text.splitlines() if line and not line.startswith(("trace ", " "))]
    order = [row.span.context.span_id for trace in traces(spans) for row in trace.rows]
    assert len(lines) == len(order)
    return dict(zip(order, lines, strict=True))


def first_block(line: str) -> int:
    return min(line.index(c) for c in "█▏▎▍▌▋▊▉" if c in line)


def test_text_rows_are_indented_by_depth_and_bars_placed_by_start(hand_made):
    text = render_text(hand_made, width=120, color=False)
    rows = rows_by_span_id(text, hand_made)

    names = {1: "root", 2: "chat gpt-4o", 3: "POST", 4: "POST", 5: "chat gpt-4o", 6: "orphan"}
    name_columns = {span_id: rows[span_id].index(name) for span_id, name in names.items()}
    assert name_columns[2] - name_columns[1] == 3
    assert name_columns[3] == name_columns[4] == name_columns[2] + 3
    assert name_columns[5] == name_columns[4] + 3
    assert name_columns[6] == name_columns[1]  # its parent is not among the spans: a root of its own trace
    assert "├─ POST" in rows[3]
    assert "└─ POST" in rows[4]
    assert "   └─ chat" in rows[5]  # the last sibling's subtree gets blanks, not a vertical guide

    zero = first_block(rows[1])
    bar_width = rows[1].count("█")  # the root spans the whole range
    for span_id, start_fraction in [(2, 0.2), (3, 0.25), (4, 0.5), (5, 0.5)]:
        assert first_block(rows[span_id]) - zero == round(start_fraction * bar_width)
    assert abs(rows[4].count("█") - bar_width / 2) <= 1

    assert all(len(line) <= 120 for line in text.splitlines())
    assert "\x1b[" not in text


def test_text_rows_show_the_key_attributes(hand_made):
    rows = rows_by_span_id(render_text(hand_made, width=160), hand_made)
    assert "→ gpt-4o-2024-08-06 · tokens 7 in / 3 out · 2 attempts" in rows[2]
    assert rows[3].rstrip().endswith("HTTP 429")
    assert rows[5].rstrip().endswith("✗ RateLimitError")
    assert "80.0 ms" in rows[2]


def test_text_header_per_trace_and_colour_only_when_asked(hand_made):
    text = render_text(hand_made, width=120)
    assert re.findall(r"^trace ([0-9a-f]{32})", text, re.MULTILINE) == [f"{TRACE:032x}", f"{OTHER_TRACE:032x}"]
    coloured = render_text(hand_made, width=120, color=True)
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == text


def test_a_narrow_terminal_moves_details_under_their_row(hand_made):
    text = render_text(hand_made, width=70)
    lines = text.splitlines()
    assert all(len(line) <= 70 for line in lines)
    rows = rows_by_span_id(text, hand_made)
    assert rows[1].count("█") >= 20  # the bar keeps its room
    under_call = lines[lines.index(rows[2]) + 1]
    assert under_call.lstrip().startswith("│  → gpt-4o-2024-08-06 · tokens 7 in / 3 out")  # the guide continues down
    assert "tokens" not in rows[2]


def test_html_is_self_contained_escaped_and_placed_by_start(hand_made):
    hand_made.append(make_span("<script>alert(1)</script>", 7, 1, 90, 100))
    page = render_html(hand_made, title="t & t")
    assert "<title>t &amp; t</title>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page
    assert 'style="left:50.000%;width:50.000%' in page  # span 4: starts half-way, lasts half the trace
    assert 'style="left:0.000%;width:100.000%' in page
    assert "error.type = RateLimitError" in page  # every attribute in the row's tooltip
    assert page.count('class="row ') + page.count('class="row"') == len(hand_made) + 2  # + a head row per trace
