"""Failing quietly: instrumentation errors are logged once per kind and never reach the caller."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("aigw_trace")

_seen: set[str] = set()
_lock = threading.Lock()


def report(where: str, exc: BaseException) -> None:
    """Log an internal failure the first time it happens at ``where`` with this exception type.

    The set of keys is bounded by the code's call sites times exception types, so it cannot grow without limit.
    """
    key = f"{where}:{type(exc).__qualname__}"
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    log.warning("aigw-trace: instrumentation failed in %s; the SDK call continues untouched", where, exc_info=exc)
