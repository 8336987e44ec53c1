"""What anthropic does its own way (``Provider.extra_setup``): its native span, whose place aigw-trace takes, and
the SDK's omitted-parameter sentinels, which nested request fields skip."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from typing import Any

from ..._call import current_call
from ..._wrap import is_instrumentation_enabled
from .._request import ABSENT

_log = logging.getLogger("aigw_trace")


def _native_span(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_api_call_span(*args: Any, **kwargs: Any) -> Any:
        # ``None`` is the SDK's answer for "this call has no span": it then neither starts one nor touches trace
        # headers.
        call = current_call()
        if call is not None:
            if call.span.get_span_context().is_valid:
                return None  # the one span is ours (sampled or not)
            # aigw-trace records into the API's no-op provider (none was set up): a span the client sends to its own
            # tracer_provider is then the only one there can be, so the SDK keeps it, and its trace headers.
        elif not is_instrumentation_enabled():
            return None  # suppress_instrumentation() means no span at all, the SDK's included
        return original(*args, **kwargs)

    return start_api_call_span


def _take_the_native_span_place() -> Callable[[], None]:
    import anthropic._base_client as base

    from ..._patch import patch

    if callable(getattr(base, "start_api_call_span", None)):
        return patch(base, "start_api_call_span", _native_span)
    if importlib.util.find_spec("anthropic._tracing") is not None:
        # A release that traces itself some other way would give every call two spans: say so rather than
        # double-count. Releases before 1.14 have no tracing of their own, and nothing to say.
        _log.warning(
            "aigw-trace: this anthropic version's own tracing is not recognised; if it traces API calls, set "
            "ANTHROPIC_OPEN_TELEMETRY=false so that each call has one span, not two"
        )
    return lambda: None


def _omitted_parameters() -> Callable[[], None]:
    # Every parameter left out travels in the body as the SDK's sentinel: a nested request field skips it at once.
    import anthropic._types as types

    sentinels = {
        cls for cls in (getattr(types, "Omit", None), getattr(types, "NotGiven", None)) if isinstance(cls, type)
    }
    added = sentinels - ABSENT
    ABSENT.update(added)
    return lambda: ABSENT.difference_update(added)


def version_specific_setup(instrumentation: Any) -> Callable[[], None]:
    undo = [_take_the_native_span_place(), _omitted_parameters()]

    def undo_all() -> None:
        for step in reversed(undo):
            step()

    return undo_all
