"""One generator of odd provider output, for both the wire fuzzer and the chunk-fold property.

Each endpoint family has a well-formed JSON body and a well-formed event sequence built from a few *source*
values (the ones the span's attributes come from). Two kinds of strategies come out of it:

* :func:`fold_case`: events whose source fields are each either well-formed everywhere or broken everywhere,
  surrounded by odd *noise* (missing, null and wrong-typed fields, huge numbers, unknown events, duplicated usage,
  chunks without ``index``, ``choices: null``) on a well-formed wire. The attributes of the well-formed sources
  are known in advance (:attr:`FoldCase.expected`).
* :func:`wire_body`: whole HTTP bodies, JSON or SSE, anything goes: every field may be mangled, error objects come
  with status 200, events are truncated or cut, bytes are not UTF-8.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from aigw_trace import _attributes as A

Path = tuple[Any, ...]

# --- odd values ---

HUGE_INTS = [2**63, 2**64 + 1, 10**30, -(2**63) - 1, -1]
ODD_SCALARS: list[Any] = [None, True, False, 0, -1, 1.5, 1e308, -0.0, "", "12", "null", "\u0000", "é", "\ud800"]
ODD_VALUES = st.one_of(
    st.sampled_from(ODD_SCALARS),
    st.sampled_from(HUGE_INTS),
    st.text(max_size=8),
    st.lists(st.sampled_from([None, 1, "x", {}]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "type", "index", "id"]), st.sampled_from([None, 1, "x"]), max_size=2),
)
"""Values of the wrong type (or of the right type and an absurd size) for any field."""

BROKEN = {
    str: st.sampled_from([None, 12, 1.5, True, ["x"], {"v": "x"}]),
    int: st.sampled_from([None, "12", 1.5, True, ["1"], {"v": 1}]),
}
"""Malformed values of a source field, by its well-formed type (never well-formed themselves)."""


# --- families ---


@dataclass(frozen=True)
class Family:
    """One endpoint family: how its bodies look and which span attributes come from which values."""

    name: str
    provider: str
    path: str
    sources: dict[str, Any]
    """Source name → well-formed value (its type is what :data:`BROKEN` breaks)."""
    attributes: dict[str, Callable[[dict[str, Any]], Any]]
    """Span attribute → its expected value from the well-formed sources it needs (names in ``needs``)."""
    needs: dict[str, tuple[str, ...]]
    """Span attribute → the sources it is read from."""
    body: Callable[[dict[str, Any]], dict[str, Any]]
    events: Callable[[dict[str, Any]], list[tuple[str, dict[str, Any]]]] | None
    """(role, event) pairs of a stream; roles name where sources sit, so noise can leave those fields alone."""
    protected: dict[str, tuple[Path, ...]] = field(default_factory=dict)
    """Role → field paths that hold sources or decide what an event is (noise leaves them alone)."""
    named: bool = False
    """SSE frames carry ``event:`` lines (Responses, Anthropic)."""
    done: bool = False
    """The stream ends with ``data: [DONE]`` (chat and legacy completions)."""


def _chat_body(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "object": "chat.completion",
        "created": 1,
        "model": s["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": s["finish"]}],
        "usage": {"prompt_tokens": s["input"], "completion_tokens": s["output"], "total_tokens": 10},
        "system_fingerprint": "fp_1",
    }


def _chat_events(s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def chunk(choices: Any, **extra: Any) -> dict[str, Any]:
        return {
            "id": s["id"],
            "object": "chat.completion.chunk",
            "created": 1,
            "model": s["model"],
            "choices": choices,
            **extra,
        }

    return [
        ("content", chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])),
        ("content", chunk([{"index": 0, "delta": {"content": "po"}, "finish_reason": None}])),
        ("content", chunk([{"index": 0, "delta": {"content": "ng"}, "finish_reason": None}])),
        ("finish", chunk([{"index": 0, "delta": {}, "finish_reason": s["finish"]}])),
        ("usage", chunk([], usage={"prompt_tokens": s["input"], "completion_tokens": s["output"], "total_tokens": 10})),
    ]


def _completions_body(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "object": "text_completion",
        "created": 1,
        "model": s["model"],
        "choices": [{"index": 0, "text": " world", "finish_reason": s["finish"], "logprobs": None}],
        "usage": {"prompt_tokens": s["input"], "completion_tokens": s["output"], "total_tokens": 10},
    }


def _completions_events(s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def chunk(choices: Any, **extra: Any) -> dict[str, Any]:
        return {
            "id": s["id"],
            "object": "text_completion",
            "created": 1,
            "model": s["model"],
            "choices": choices,
            **extra,
        }

    return [
        ("content", chunk([{"index": 0, "text": " wo", "finish_reason": None, "logprobs": None}])),
        ("content", chunk([{"index": 0, "text": "rld", "finish_reason": None, "logprobs": None}])),
        ("finish", chunk([{"index": 0, "text": "", "finish_reason": s["finish"], "logprobs": None}])),
        ("usage", chunk([], usage={"prompt_tokens": s["input"], "completion_tokens": s["output"], "total_tokens": 10})),
    ]


def _response(s: dict[str, Any], status: str, *, output: bool = True, usage: bool = True) -> dict[str, Any]:
    message = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "pong", "annotations": []}],
    }
    return {
        "id": s["id"],
        "object": "response",
        "created_at": 1.0,
        "model": s["model"],
        "status": status,
        "output": [message] if output else [],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "usage": {"input_tokens": s["input"], "output_tokens": s["output"], "total_tokens": 10} if usage else None,
    }


def _responses_events(s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    text = {"item_id": "msg_1", "output_index": 0, "content_index": 0, "logprobs": []}
    started = _response(s, "in_progress", output=False, usage=False)
    item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "in_progress", "content": []}
    seq = [
        ("start", {"type": "response.created", "response": started}),
        ("other", {"type": "response.output_item.added", "output_index": 0, "item": item}),
        (
            "other",
            {
                "type": "response.content_part.added",
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ),
        ("other", {"type": "response.output_text.delta", "delta": "po", **text}),
        ("other", {"type": "response.output_text.delta", "delta": "ng", **text}),
        ("other", {"type": "response.output_text.done", "text": "pong", **text}),
        ("final", {"type": "response.completed", "response": _response(s, "completed")}),
    ]
    return [(role, {**event, "sequence_number": i}) for i, (role, event) in enumerate(seq)]


def _embeddings_body(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2]}],
        "model": s["model"],
        "usage": {"prompt_tokens": s["input"], "total_tokens": s["input"]},
    }


def _message_body(s: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": s["id"],
        "type": "message",
        "role": "assistant",
        "model": s["model"],
        "content": [{"type": "text", "text": "pong"}],
        "stop_reason": s["finish"],
        "stop_sequence": None,
        "usage": {"input_tokens": s["input"], "output_tokens": s["output"]},
    }


def _message_events(s: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    start = {
        **_message_body(s),
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": s["input"], "output_tokens": 1},
    }
    return [
        ("start", {"type": "message_start", "message": start}),
        ("block", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        ("block", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "po"}}),
        ("block", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ng"}}),
        ("block", {"type": "content_block_stop", "index": 0}),
        (
            "delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": s["finish"], "stop_sequence": None},
                "usage": {"output_tokens": s["output"]},
            },
        ),
        ("stop", {"type": "message_stop"}),
    ]


SOURCES = {"id": "resp-fuzz", "model": "model-fuzz", "input": 7, "output": 3, "finish": "stop"}
_COMMON_ATTRS: dict[str, Callable[[dict[str, Any]], Any]] = {
    A.RESPONSE_ID: lambda s: s["id"],
    A.RESPONSE_MODEL: lambda s: s["model"],
    A.USAGE_INPUT_TOKENS: lambda s: s["input"],
    A.USAGE_OUTPUT_TOKENS: lambda s: s["output"],
    A.RESPONSE_FINISH_REASONS: lambda s: (s["finish"],),
}
_COMMON_NEEDS = {
    A.RESPONSE_ID: ("id",),
    A.RESPONSE_MODEL: ("model",),
    A.USAGE_INPUT_TOKENS: ("input",),
    A.USAGE_OUTPUT_TOKENS: ("output",),
    A.RESPONSE_FINISH_REASONS: ("finish",),
}
_CHUNK_SOURCES: tuple[Path, ...] = (("id",), ("model",))

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family(
            "chat",
            "openai",
            "/v1/chat/completions",
            SOURCES,
            _COMMON_ATTRS,
            _COMMON_NEEDS,
            _chat_body,
            _chat_events,
            protected={
                "content": _CHUNK_SOURCES,
                "finish": (*_CHUNK_SOURCES, ("choices",)),
                "usage": (*_CHUNK_SOURCES, ("usage",), ("choices",)),
            },
            done=True,
        ),
        Family(
            "completions",
            "openai",
            "/v1/completions",
            SOURCES,
            _COMMON_ATTRS,
            _COMMON_NEEDS,
            _completions_body,
            _completions_events,
            protected={
                "content": _CHUNK_SOURCES,
                "finish": (*_CHUNK_SOURCES, ("choices",)),
                "usage": (*_CHUNK_SOURCES, ("usage",), ("choices",)),
            },
            done=True,
        ),
        Family(
            "responses",
            "openai",
            "/v1/responses",
            {**SOURCES, "finish": "completed"},
            {**_COMMON_ATTRS, A.RESPONSE_FINISH_REASONS: lambda s: ("stop",)},
            _COMMON_NEEDS,
            lambda s: _response(s, s["finish"]),
            _responses_events,
            protected={
                "start": (("type",), ("response",)),
                "other": (("type",),),
                "final": (("type",), ("response",)),
            },
            named=True,
        ),
        Family(
            "embeddings",
            "openai",
            "/v1/embeddings",
            {"model": "model-fuzz", "input": 7},
            {A.RESPONSE_MODEL: lambda s: s["model"], A.USAGE_INPUT_TOKENS: lambda s: s["input"]},
            {A.RESPONSE_MODEL: ("model",), A.USAGE_INPUT_TOKENS: ("input",)},
            _embeddings_body,
            None,
        ),
        Family(
            "messages",
            "anthropic",
            "/v1/messages",
            {**SOURCES, "finish": "end_turn"},
            _COMMON_ATTRS,
            _COMMON_NEEDS,
            _message_body,
            _message_events,
            protected={
                "start": (("type",), ("message", "id"), ("message", "model"), ("message", "usage")),
                "block": (("type",),),
                "delta": (("type",), ("delta", "stop_reason"), ("usage",)),
                "stop": (("type",),),
            },
            named=True,
        ),
    ]
}
STREAMING = [name for name, f in FAMILIES.items() if f.events is not None]


# --- noise ---


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    out: list[Path] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            out.append((*prefix, key))
            out.extend(_paths(inner, (*prefix, key)))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(inner, (*prefix, i)))
    return out


def _under(path: Path, prefixes: tuple[Path, ...]) -> bool:
    return any(path[: len(p)] == p or p[: len(path)] == path for p in prefixes)


def _set(doc: Any, path: Path, op: str, value: Any) -> None:
    parent = doc
    for key in path[:-1]:
        try:
            parent = parent[key]
        except (KeyError, IndexError, TypeError):
            return  # an earlier change removed the way there
    key = path[-1]
    try:
        if op == "delete" and isinstance(parent, dict):
            parent.pop(key, None)
        elif op == "extra" and isinstance(parent, dict):
            parent[f"unknown_{len(parent)}"] = value
        else:
            parent[key] = value
    except (KeyError, IndexError, TypeError):
        pass


@st.composite
def mangle(draw: st.DrawFn, doc: Any, protected: tuple[Path, ...] = (), max_changes: int = 4) -> Any:
    """``doc`` with a few fields deleted, nulled, given a value of the wrong type, or joined by unknown ones."""
    doc = copy.deepcopy(doc)
    paths = [p for p in _paths(doc) if not _under(p, protected)]
    if not paths:
        return doc
    for path in draw(st.lists(st.sampled_from(paths), max_size=max_changes, unique=True)):
        op = draw(st.sampled_from(["delete", "null", "odd", "extra"]))
        _set(doc, path, op, None if op == "null" else copy.deepcopy(draw(ODD_VALUES)))
    return doc


def _unknown_event(family: Family) -> st.SearchStrategy[dict[str, Any]]:
    if family.named:
        return st.fixed_dictionaries(
            {"type": st.sampled_from(["x.unknown", "response.future_thing", "content_block_future", "ping"])},
            optional={"payload": ODD_VALUES},
        )
    return st.sampled_from(
        [
            {"object": "chat.completion.chunk", "choices": None},
            {"object": "keepalive"},
            {"id": None, "choices": [{"delta": {"content": "x"}}]},  # a chunk without `index`
            {"choices": [{"index": 0, "delta": None, "finish_reason": None}]},
        ]
    )


# --- the chunk-fold case ---


@dataclass
class FoldCase:
    family: Family
    events: list[tuple[str, dict[str, Any]]]
    """(SSE event name, data) pairs, in order."""
    broken: frozenset[str]
    """Sources given malformed values."""

    @property
    def expected(self) -> dict[str, Any]:
        """The attributes whose sources are all well-formed, with their values."""
        f = self.family
        return {attr: value(f.sources) for attr, value in f.attributes.items() if not set(f.needs[attr]) & self.broken}

    def frames(self) -> list[bytes]:
        return encode_sse(self.family, self.events)


@st.composite
def fold_case(draw: st.DrawFn, family_name: str, avoid: frozenset[str] = frozenset()) -> FoldCase:
    """A well-formed wire carrying odd chunks around the sources; ``avoid`` leaves out noise kinds (see KNOWN)."""
    family = FAMILIES[family_name]
    assert family.events is not None
    sources = dict(family.sources)
    broken = draw(st.frozensets(st.sampled_from(sorted(sources)), max_size=2))
    for name in broken:
        sources[name] = draw(BROKEN[type(family.sources[name])])
    events: list[tuple[str, dict[str, Any]]] = []
    for role, event in family.events(sources):
        name = event.get("type") if family.named else None
        if draw(st.integers(0, 3)) == 0:
            event = draw(mangle(event, family.protected.get(role, ()), max_changes=3))
        event = _avoid(family, role, event, avoid)
        if role == "content" and not family.named:
            event = _still_running(event)
        events.append((name, event))
        if role in ("usage", "delta") and draw(st.integers(0, 5)) == 0:
            events.append((name, copy.deepcopy(event)))  # duplicated usage
    for _ in range(draw(st.integers(0, 2))):
        odd = _avoid(family, "inserted", copy.deepcopy(draw(_unknown_event(family))), avoid)
        # never after the last event: a stream's end belongs to its terminal event (tested separately)
        at = draw(st.integers(0, len(events) - 1))
        events.insert(at, (odd.get("type") if family.named else None, odd))
    return FoldCase(family, events, broken)


def _still_running(event: dict[str, Any]) -> dict[str, Any]:
    """A mangled content chunk in which another choice (an ``int`` index other than 0) reports a non-empty string
    finish reason is a different response (a second choice that finished), not noise around this one: the library
    rightly records that reason, which the oracle cannot know. Such a choice's reason goes back to null."""
    choices = event.get("choices")
    if not isinstance(choices, list):
        return event
    running = []
    for c in choices:
        if isinstance(c, dict) and type(c.get("index")) is int and c["index"] != 0:
            reason = c.get("finish_reason")
            if isinstance(reason, str) and reason:
                c = {**c, "finish_reason": None}
        running.append(c)
    return {**event, "choices": running}


AVOID: frozenset[str] = frozenset()
"""Noise kinds (``family:kind``) the fold property leaves out because they expose a known library bug, each pinned
by a strict-xfail test in ``test_fold.py``: drop an entry when its bug is fixed."""


def _avoid(family: Family, role: str, event: dict[str, Any], avoid: frozenset[str]) -> dict[str, Any]:
    """Repair the noise kinds in ``avoid`` (named ``family:kind``), so a known bug does not hide the rest."""
    name = family.name
    if f"{name}:block-shape" in avoid and str(event.get("type", "")).startswith("content_block"):
        event = {**event, "index": event["index"] if type(event.get("index")) is int else 0}
        delta = event.get("delta")
        if event["type"] == "content_block_delta" and not (
            isinstance(delta, dict) and delta.get("type") == "text_delta" and isinstance(delta.get("text"), str)
        ):
            event["delta"] = {"type": "text_delta", "text": ""}
        block = event.get("content_block")
        if event["type"] == "content_block_start" and not (
            isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
        ):
            event["content_block"] = {"type": "text", "text": ""}
    if family.named:
        return event
    if f"{name}:choices-shape" in avoid:
        choices = event.get("choices")
        choices = [c for c in choices if isinstance(c, dict)] if isinstance(choices, list) else []
        event = {**event, "choices": choices}
    if f"{name}:choice-index" in avoid and isinstance(event.get("choices"), list):
        event["choices"] = [
            {**c, "index": 0} if isinstance(c, dict) and type(c.get("index")) is not int else c
            for c in event["choices"]
        ]
    if f"{name}:delta-shape" in avoid and isinstance(event.get("choices"), list):
        for c in event["choices"]:
            if isinstance(c, dict) and not isinstance(c.get("delta", {}), dict):
                c["delta"] = {}
            delta = c.get("delta") if isinstance(c, dict) else None
            if isinstance(delta, dict):
                for key, kind in (("content", str), ("tool_calls", list)):
                    if delta.get(key) is not None and not isinstance(delta[key], kind):
                        del delta[key]
            if isinstance(c, dict) and c.get("text") is not None and not isinstance(c["text"], str):
                del c["text"]
    return event


# --- wire bodies ---


def encode_sse(family: Family, events: list[tuple[Any, Any]]) -> list[bytes]:
    frames = []
    for name, data in events:
        head = f"event: {name}\n" if family.named and isinstance(name, str) else ""
        frames.append(f"{head}data: {json.dumps(data)}\n\n".encode())
    if family.done:
        frames.append(b"data: [DONE]\n\n")
    return frames


@dataclass
class Wire:
    """One HTTP response as it leaves a misbehaving server."""

    status: int
    content_type: str
    chunks: list[bytes]
    stream: bool
    note: str = ""

    def __repr__(self) -> str:
        return f"Wire({self.status}, {self.content_type!r}, {self.note}, {b''.join(self.chunks)[:600]!r})"


def _error_object(family: Family) -> dict[str, Any]:
    if family.provider == "anthropic":
        return {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    return {"error": {"message": "busy", "type": "server_error", "code": None}}


@st.composite
def _byte_damage(draw: st.DrawFn, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["none", "none", "truncate", "non-utf8", "empty"]))
    if kind == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "non-utf8" and data:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\x80\x80"])) + data[at:]
    if kind == "empty":
        return b""
    return data


@st.composite
def wire_body(draw: st.DrawFn, family_name: str, stream: bool) -> Wire:
    """Any odd response of ``family_name``: mangled anywhere, error objects with status 200, damaged bytes."""
    family = FAMILIES[family_name]
    status = draw(st.sampled_from([200, 200, 200, 200, 201]))
    if not stream:
        doc: Any = draw(
            st.one_of(
                mangle(family.body(family.sources), max_changes=6),
                st.just(_error_object(family)),
                st.builds(lambda d, e: {**d, **e}, mangle(family.body(family.sources)), st.just(_error_object(family))),
                ODD_VALUES,
            )
        )
        data = draw(_byte_damage(json.dumps(doc).encode()))
        ctype = draw(st.sampled_from(["application/json", "application/json", "text/plain", "text/html"]))
        return Wire(status, ctype, [data], False, "json")
    assert family.events is not None
    events: list[tuple[Any, Any]] = []
    for _role, event in family.events(family.sources):
        name = event.get("type") if family.named else None
        if draw(st.integers(0, 2)) == 0:
            event = draw(mangle(event, max_changes=4))
        events.append((name, event))
    for _ in range(draw(st.integers(0, 3))):
        odd = copy.deepcopy(
            draw(
                st.one_of(
                    _unknown_event(family),
                    st.just(_error_object(family)),
                    ODD_VALUES,
                    st.sampled_from([e for _, e in family.events(family.sources)]),  # duplicates (usage among them)
                )
            )
        )
        name = odd.get("type") if family.named and isinstance(odd, dict) else None
        if family.named and not isinstance(name, str):
            name = draw(st.sampled_from(["error", "message_delta", "response.completed", "x.unknown"]))
        events.insert(draw(st.integers(0, len(events))), (name, odd))
    frames = encode_sse(family, events)
    if family.done and draw(st.booleans()):
        frames = frames[:-1]  # no [DONE]
    if frames and draw(st.integers(0, 3)) == 0:
        at = draw(st.integers(0, len(frames) - 1))
        frames[at] = draw(_byte_damage(frames[at]))
    if frames and draw(st.integers(0, 5)) == 0:
        frames.insert(
            draw(st.integers(0, len(frames))),
            draw(st.sampled_from([b": comment\n\n", b"garbage\n\n", b"data: {\n\n", b"\n\n\n"])),
        )
    # Chunk boundaries are not event boundaries on a real network.
    data = b"".join(frames)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=3, unique=True)))
    chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True) if data[a:b]]
    ctype = "text/event-stream"
    return Wire(status, ctype, chunks, True, "sse")
