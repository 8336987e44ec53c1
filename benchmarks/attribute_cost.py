"""What one span attribute costs in the OpenTelemetry SDK: a CLIENT span started, given its response attributes and
ended (bench.py's span processor and discarding exporter), with the attribute sets three instrumentations record on
bench.py's chat call, counted under callgrind in one process, interleaved.

- **floor** (10): bench.py's floor, five attributes at start and five at the end;
- **openai-v2** (13): what it records on that call (``peers/child.py record --peer openai-v2 --scenarios chat``);
- **aigw-trace** (16): what aigw-trace records on it.

So a ratio against a peer can be read against what recording its attributes, or aigw-trace's, costs by itself.

Run: ``python benchmarks/attribute_cost.py`` with the tests venv's python (needs ``valgrind``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stream_anatomy import MARKERS, _inclusive

START = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
         "server.address": "api.openai.com", "server.port": 443}  # fmt: skip
END = {"gen_ai.response.id": "chatcmpl-1", "gen_ai.response.model": "gpt-4o-2024-08-06",
       "gen_ai.response.finish_reasons": ("stop",), "gen_ai.usage.input_tokens": 11,
       "gen_ai.usage.output_tokens": 7}  # fmt: skip
OPENAI_V2 = (
    {**START, "gen_ai.request.temperature": 0.2},
    {**END, "openai.response.service_tier": "default", "openai.response.system_fingerprint": "fp_1"},
)
AIGW_TRACE = (
    {**OPENAI_V2[0], "openai.api.type": "chat_completions"},
    {**OPENAI_V2[1], "gen_ai.usage.cache_read.input_tokens": 0, "gen_ai.usage.reasoning.output_tokens": 0},
)
SETS = {"floor": (START, END), "openai-v2": OPENAI_V2, "aigw-trace": AIGW_TRACE}

_CHILD = """
import functools, sys
sys.path.insert(0, {bench_dir!r})
import bench
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(bench._Discard()))
tracer = provider.get_tracer("attribute-cost")

def spans(start, end):
    def run():
        for _ in range({spans}):
            span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=start)
            span.set_attributes(end)
            span.end()
    return run

{markers}
configs = [(spans(*s), marker) for s, marker in zip({sets!r}, (starmap, accumulate, takewhile))]
for fn, _ in configs:
    fn()
def rounds(_, __):
    for turn in range({rounds}):
        for fn, marker in configs[turn % 3:] + configs[: turn % 3]:
            marker(fn)
functools.reduce(rounds, range(1), None)
"""
_MARKERS = ("starmap_next", "accumulate_next", "takewhile_next")


def count(spans: int = 200, rounds: int = 3) -> dict[str, float]:
    """Instructions per span for each attribute set."""
    sets = list(SETS.values())
    code = _CHILD.format(bench_dir=str(Path(__file__).parent), spans=spans, rounds=rounds, sets=sets, markers=MARKERS)
    found: dict[str, float] = {}
    for line in _inclusive(code, cache_sim=False).splitlines():
        match = re.match(r"\s*([\d,]+) .*?:(\w+) \[", line)
        if match and match.group(2) in _MARKERS:
            name = list(SETS)[_MARKERS.index(match.group(2))]
            found.setdefault(name, int(match.group(1).replace(",", "")) / (spans * rounds))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=200, help="spans per configuration per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    found = count(args.spans, args.rounds)
    base = found["floor"]
    for name, (start, end) in SETS.items():
        n = len(start) + len(end)
        extra = found[name] - base
        per = f"   {extra / (n - 10) / 1e3:.1f}k per attribute beyond the floor's" if n > 10 else ""
        total = found[name] / 1e3
        print(f"{name:<11} {n:>2} attributes: {total:8.1f}k instructions per span (+{extra / 1e3:.1f}k){per}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
