"""One exchange's answer: what the loopback gateway sends back, decided from the route, the turn and a fault."""

from __future__ import annotations

from dataclasses import dataclass

from ._bodies import Route, Turn, dumps, openai_error
from ._faults import Fault


@dataclass
class Answer:
    """What to send back: a whole ``body``, or stream ``events`` (possibly cut or ending in ``error_event``)."""

    status: int
    content_type: str
    body: bytes = b""
    events: list[bytes] | None = None
    stop_after: int | None = None
    """Send only this many events."""
    error_event: bytes | None = None
    """Sent after ``stop_after`` events."""
    drop_connection: bool = False
    """After ``stop_after`` events, drop the connection instead of ending the body."""
    error: str | None = None
    """What went wrong, for the spans (``error.type``), though the status may be 200."""


def decide_answer(route: Route | None, turn: Turn, fault: Fault | None, method: str, path: str) -> Answer:
    """Decide the response: unknown route, fault, stream or JSON body."""
    if route is None:
        return Answer(404, "application/json", dumps(openai_error(404, f"Unknown route: {method} {path}")))
    if fault is not None and fault.body is not None:
        return Answer(fault.status or 200, fault.content_type, fault.body)
    if fault is not None and fault.status is not None and fault.status >= 400:
        return Answer(fault.status, "application/json", dumps(route.provider.error_body(fault.status, fault.message)))
    if turn.request.get("stream") is not True or route.stream is None:
        return Answer(fault.status if fault and fault.status else 200, "application/json", dumps(route.body(turn)))

    answer = Answer(200, "text/event-stream", events=route.stream(turn))
    last = len(answer.events or ()) - 1  # never cut after the final event: that would not be a cut
    if fault is not None and fault.cut_after is not None:
        answer.stop_after = min(fault.cut_after, last)
        answer.drop_connection = not fault.graceful_cut
        answer.error = "stream_cut"
    elif fault is not None and fault.error_event_after is not None:
        answer.stop_after = min(fault.error_event_after, last)
        answer.error_event = route.provider.error_event(fault.message)
        answer.error = "stream_error_event"
    return answer
