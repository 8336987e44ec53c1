"""GenAI metrics a framework records for an SDK call without opening a span around it (issue 20 item 2).

Under a framework's own GenAI client span (pydantic-ai's) ``_wrap`` sees the span and leaves the metrics to it.
litellm's OpenTelemetry callback (``litellm.callbacks = ["otel"]`` or an ``OpenTelemetry(...)`` instance) opens
nothing during the call: it records ``gen_ai.client.operation.duration`` and ``gen_ai.client.token.usage`` after the
call succeeds, from a worker thread or task. Nothing in the OTel context, litellm's contextvars or the SDK's request
options marks such a call while it runs, so the one reliable mark is on the stack: litellm's logging wrapper (the
``@client`` decorator of ``completion``, ``acompletion``, ``embedding``...) is a caller of the SDK call, a few frames
up, in the same thread (async too: an awaiting coroutine is the awaited one's ``f_back``). That wrapper is what
hands the result to the callbacks.

:func:`framework_records_metrics` says yes only when all of these hold, so anything it cannot see keeps today's
behaviour (aigw-trace records, possibly twice) rather than losing a metric:

* ``litellm`` is imported: one ``sys.modules`` lookup, the whole cost when it is not;
* an ``OpenTelemetry`` callback with ``enable_metrics`` is registered globally (with metrics off, litellm records
  spans only, and the metrics are aigw-trace's to record);
* the call runs inside litellm's wrapper, found within :data:`_MAX_DEPTH` frames;
* litellm will log it: not an internal sub-call (``is_internal_call``) and not ``no-log``.

Not seen, so still counted twice: callbacks passed per call as ``success_callback=[...]``, and callbacks turned off
per request by litellm's enterprise header controls. litellm records no metric for a failed call, and neither does
aigw-trace once this says yes (``Call.records_metrics`` covers success and error alike).
"""

from __future__ import annotations

import sys
from types import CodeType, FrameType, ModuleType
from typing import Any

from ._safety import report

_MAX_DEPTH = 24
"""Frames searched for litellm's wrapper. With litellm 1.110 it is the 11th (12th for a stream) counting from
:func:`_litellm_will_record`, sync or async; the margin is for other wrappers in between (instrumentations, the
app's). Past it the call counts as not litellm's."""

_WRAPPER_NAMES = frozenset({"wrapper", "wrapper_async"})
_CALLBACK_LISTS = ("callbacks", "success_callback", "_async_success_callback")
"""Where a global callback sits once litellm's call setup has run (it copies ``callbacks`` into the other two)."""

_wrappers: tuple[ModuleType | None, frozenset[CodeType]] = (None, frozenset())
"""``litellm.utils`` and the code objects of its ``client`` decorator's wrappers, found once per module object."""


def framework_records_metrics() -> bool:
    """Whether a framework's own instrumentation will record the GenAI metrics of the SDK call starting now, with no
    GenAI span of its own around it (litellm's ``otel`` callback with metrics on). Call it from the SDK call's
    thread, at its start; never raises."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return False
    try:
        return _litellm_will_record(litellm)
    except Exception as exc:  # litellm changed shape: record as before
        report("recognising litellm's otel callback", exc)
        return False


def _litellm_will_record(litellm: ModuleType) -> bool:
    if not _otel_metrics_registered(litellm):
        return False
    frame = _wrapper_frame()
    if frame is None:
        return False
    internal = getattr(sys.modules.get("litellm._internal_context"), "is_internal_call", None)
    if internal is not None and internal.get() is True:
        return False  # litellm logs internal sub-calls only through their parent call
    kwargs = frame.f_locals.get("kwargs")  # the wrapper's own **kwargs: the call as the app made it
    return not (
        isinstance(kwargs, dict)
        and kwargs.get("no-log") is True
        and getattr(litellm, "global_disable_no_log_param", False) is not True
    )


def _otel_metrics_registered(litellm: ModuleType) -> bool:
    otel = getattr(sys.modules.get("litellm.integrations.opentelemetry"), "OpenTelemetry", None)
    if not isinstance(otel, type):
        return False
    for name in _CALLBACK_LISTS:
        callbacks: Any = getattr(litellm, name, None)
        if callbacks.__class__ is not list:
            continue
        for callback in callbacks:  # a list iterates safely while another thread appends (litellm's call setup)
            if isinstance(callback, otel) and getattr(getattr(callback, "config", None), "enable_metrics", None):
                return True
    return False


def _wrapper_frame() -> FrameType | None:
    codes = _wrapper_codes()
    if not codes:
        return None
    frame: FrameType | None = sys._getframe(1)
    for _ in range(_MAX_DEPTH):
        if frame is None:
            return None
        if frame.f_code in codes:
            return frame
        frame = frame.f_back
    return None


def _wrapper_codes() -> frozenset[CodeType]:
    """The wrappers' code objects, read off ``litellm.utils.client`` itself: every function it decorates shares
    them, and they do not depend on what else wraps ``litellm.completion``."""
    global _wrappers
    utils = sys.modules.get("litellm.utils")
    if _wrappers[0] is not utils:
        code = getattr(getattr(utils, "client", None), "__code__", None)
        consts = code.co_consts if isinstance(code, CodeType) else ()
        found = frozenset(c for c in consts if isinstance(c, CodeType) and c.co_name in _WRAPPER_NAMES)
        _wrappers = (utils, found)
    return _wrappers[1]
