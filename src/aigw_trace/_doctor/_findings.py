"""What the doctor makes of what it saw: hints for failures it recognises, one-line body summaries, URLs without
credentials, and why no ``traceparent`` went out."""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import propagate

from .._config import Settings
from .._options import BY_NAME

ENV_PROPAGATE = BY_NAME["propagate"].env
ENV_INJECT_HOSTS = BY_NAME["inject_hosts"].env

KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_LINE = 160
"""Longest text quoted from a response body."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def root_cause(exc: BaseException) -> BaseException:
    *_, last = _causes(exc)
    return last


def connection_hint(exc: BaseException, base_url: str, timeout: float) -> str | None:
    parts = urlsplit(base_url)
    host = parts.hostname or base_url
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    for cause in _causes(exc):
        text = str(cause)
        if isinstance(cause, ConnectionRefusedError) or "Connection refused" in text:
            return (
                f"connection refused: nothing listens on {host}:{port}; is the gateway running, and is the port right?"
            )
        if isinstance(cause, socket.gaierror) or "Name or service not known" in text or "nodename nor servname" in text:
            return f"DNS: {host!r} does not resolve here; check the host name in --base-url (and VPN or DNS settings)."
        if isinstance(cause, ssl.SSLError) or "SSL" in text or "CERTIFICATE" in text:
            if "WRONG_VERSION_NUMBER" in text or "record layer failure" in text or "wrong version" in text.lower():
                return f"TLS: {host}:{port} does not speak TLS; if the gateway serves plain HTTP, use http://."
            if "CERTIFICATE_VERIFY_FAILED" in text:
                return "TLS: the gateway's certificate is not trusted here (self-signed or a private CA?)."
            return (
                f"TLS handshake with {host}:{port} failed; check the scheme (http:// or https://) and the certificate."
            )
        if isinstance(cause, TimeoutError) or "Timeout" in type(cause).__name__ or "timed out" in text:
            return f"no answer within {timeout:g} s: is {host}:{port} the gateway, and reachable from here?"
    return None


def status_hint(provider: str, base_url: str, status: int, content_type: str) -> str | None:
    path = urlsplit(base_url).path.rstrip("/")
    if status == 404:
        if provider == "openai" and not path.endswith("/v1"):
            return "404: the base URL may be missing `/v1` (OpenAI-compatible gateways serve e.g. /v1/models)."
        if provider == "anthropic" and path.endswith("/v1"):
            return "404: the anthropic SDK adds `/v1` itself; try the base URL without the trailing `/v1`."
        return "404: the gateway serves nothing at this path; check the base URL's path and the gateway's routes."
    if status in (401, 403):
        env = KEY_ENV[provider]
        return f"{status}: the gateway refused the credentials; set {env} to a key it accepts (it is never printed)."
    if status < 400 and "html" in content_type.lower():
        return "the answer is an HTML page, not an API response: the base URL may point at a web UI or miss `/v1`."
    return None


def summarise_body(content_type: str, body: bytes, length: int = 0) -> str:
    """One line about a response body: for HTML its title (or first text line) and size, else its first line."""
    size = max(length, len(body))
    text = body.decode("utf-8", "replace")
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        label = one_line(re.sub(r"<[^>]*>", " ", title.group(1))) if title else ""
        if not label:
            without_head = re.sub(r"<(script|style|head)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
            label = next((line for line in (one_line(x) for x in re.split(r"<[^>]*>", without_head)) if line), "")
        return f"HTML page, {size} bytes" + (f': "{label}"' if label else "")
    message = _json_message(text)
    first = message if message is not None else next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return f"{size} bytes: {one_line(first)}"


def _json_message(text: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    if isinstance(error, str):
        return error
    return None


def safe_url(url: str) -> str:
    """``url`` without user info or query values, either of which can carry a credential."""
    parts = urlsplit(url)
    if not parts.netloc:
        return url
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    if "@" in parts.netloc:
        netloc = "***@" + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "…" if parts.query else "", ""))


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _LINE else line[: _LINE - 1] + "…"


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret and len(secret) >= 4 else text


def why_not_sent(request: Any, settings: Settings, suppressed: bool, span_recorded: bool) -> list[str]:
    """Every reason, among those the doctor knows, for aigw-trace to send no ``traceparent`` on ``request``."""
    reasons = []
    fields = {f.lower() for f in propagate.get_global_textmap().fields}
    if "traceparent" not in fields:
        configured = os.environ.get("OTEL_PROPAGATORS")
        writes = ", ".join(sorted(fields)) or "nothing"
        reasons.append(
            f"the propagators ({f'OTEL_PROPAGATORS={configured}' if configured is not None else 'configured in code'})"
            f" do not include `tracecontext`: they write {writes}, no `traceparent`."
        )
    if not settings.propagate:
        reasons.append(f"injection is off: {ENV_PROPAGATE}={os.environ.get(ENV_PROPAGATE, '')!r}.")
    host = request.url.host
    if settings.propagate and settings.inject_hosts is not None and not settings.inject_hosts.allows(host):
        reasons.append(
            f"the host {host!r} is not on the injection allow-list {ENV_INJECT_HOSTS}="
            f"{os.environ.get(ENV_INJECT_HOSTS, '')!r}; aigw-trace sends trace headers only to hosts listed there."
        )
    if suppressed:
        reasons.append("instrumentation is suppressed in the calling context (suppress_instrumentation()).")
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        reasons.append("OTEL_SDK_DISABLED=true: the OpenTelemetry SDK makes no spans, so there is no context to send.")
    if not reasons:
        if not span_recorded:
            reasons.append("aigw-trace recorded no span for this request, so it had no context to inject.")
        else:
            reasons.append("none the doctor knows: aigw-trace recorded a span but sent no `traceparent` (a bug?).")
    return reasons
