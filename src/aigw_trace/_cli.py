"""The ``aigw-trace`` command line: ``demo`` and ``doctor``."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

_EXTRAS = {
    "opentelemetry.sdk": ("opentelemetry-sdk", "sdk"),
    "openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
}
"""Module each command imports → (its distribution, the aigw-trace extra that installs it)."""


def _missing_extras(args: argparse.Namespace) -> str | None:
    """One line naming what the command needs and is not installed (and the extra to install), or ``None``.

    Checked before the command imports anything, so an install with only ``opentelemetry-api`` (as libraries
    install instrumentations) gets this line and exit code 2 instead of a traceback.
    """
    needed = ["opentelemetry.sdk", *(("openai", "anthropic") if args.command == "demo" else (args.provider,))]
    missing = [_EXTRAS[name] for name in needed if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    names = ", ".join(dist for dist, _ in missing)
    extras = ",".join(extra for _, extra in missing)
    return f"aigw-trace {args.command} needs {names}, not installed here: pip install 'aigw-trace[{extras}]'"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="aigw-trace", description="OpenTelemetry for LLM SDKs behind AI gateways")
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser(
        "doctor",
        help="send one instrumented request to your gateway and report what was sent and what came back",
        description="Exit codes: 0 the gateway continued the trace (its traceresponse carries the sent trace id); "
        "1 a problem was found (nothing sent and why, a failed request, a gateway that restarted the trace); "
        "2 could not run (connection refused, DNS, TLS, timeout, a missing extra); "
        "3 sent and answered, but the gateway returned no traceresponse to confirm it. See docs/doctor.md.",
    )
    doctor.add_argument("--base-url", required=True, help="the gateway's base URL as the SDK would use it")
    doctor.add_argument("--provider", choices=("openai", "anthropic"), default="openai")
    doctor.add_argument("--model", help="send a 1-token chat/messages request with this model (default: list models)")

    demo = commands.add_parser("demo", help="see it work: OpenAI and Anthropic calls through a loopback gateway, drawn")
    demo.add_argument("--html", metavar="FILE", help="also write the waterfall to FILE as a self-contained page")

    args = parser.parse_args(argv)
    missing = _missing_extras(args)
    if missing:
        print(missing, file=sys.stderr)
        return 2
    if args.command == "doctor":
        from ._doctor import diagnose, render

        diagnosis = diagnose(args.provider, args.base_url, model=args.model)
        render(diagnosis, sys.stdout)
        return diagnosis.exit_code
    if args.command == "demo":
        from ._demo import run

        return run(html=args.html)
    return 2  # pragma: no cover - argparse rejects unknown commands
