"""The request side of an endpoint's tables, compiled into one entry per top-level body key.

A call looks up only the keys it sends (or the table's keys, whichever is fewer), so it pays for the parameters it
sets, not for the table's size. A :class:`~._spec.Field` of one step is an entry of its own; the fields that reach
below one key (``("response_format", "type")``, ``("thinking", "budget_tokens")``) share that key's entry: one
straight-line function, generated once, that follows each path through dict keys or attributes and stops at the
first missing step.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from ._values import EXACT, Record

if TYPE_CHECKING:
    from ._spec import Field

Apply = Callable[[Any, "dict[str, AttributeValue]"], None]
"""Gets a top-level value and the start attributes, and adds what the value says."""


class Param(Record):
    """A top-level request key whose value sets attributes by logic a table of :class:`~._spec.Field` paths and
    converters cannot express (one attribute decided by several values at once, say). ``apply`` gets the value and
    the start attributes. No endpoint needs one today; prefer fields."""

    __slots__ = ("apply", "key")

    key: str
    apply: Apply

    def __init__(self, key: str, apply: Apply) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "apply", apply)


ABSENT: set[type] = set()
"""Classes an SDK puts in a body for a parameter left out (anthropic sends each one as its ``Omit``): nothing below
such a value is read. A provider's setup adds its SDK's once it is imported; without them such a value only costs
more (each path ends at a failed attribute lookup)."""


RequestEntry = tuple["str | None", Callable[..., Any], bool, "type | None"]
"""A compiled request key: (attribute, converter, fallback, the class the converter passes through unchanged) for a
one-step field, (None, apply, False, None) for anything else under that key (nested fields, a :class:`Param`)."""


Grouped = dict[str, "list[Field] | Param"]
"""Top-level body key → the fields under it (or its :class:`Param`), in the order the keys are first declared."""


def group_request(items: Sequence[Field | Param]) -> Grouped:
    """The items by top-level body key; raises ``ValueError`` for a key described twice. Cheap: an endpoint checks
    its table with it when it is defined, and compiles it (:func:`compile_request`) only on its first call."""
    grouped: Grouped = {}
    for item in items:
        if isinstance(item, Param):
            if item.key in grouped:
                raise ValueError(f"request key {item.key!r} is described twice")
            grouped[item.key] = item
            continue
        below = grouped.setdefault(item.path[0], [])
        if isinstance(below, Param) or any((f.path, f.attribute) == (item.path, item.attribute) for f in below):
            raise ValueError(f"request key {item.path[0]!r} is described twice")
        below.append(item)
    return grouped


def compile_request(items: Sequence[Field | Param]) -> dict[str, RequestEntry]:
    """Top-level body key → its entry, in the order the keys are first declared."""
    grouped = group_request(items)
    table: dict[str, RequestEntry] = {}
    for key, group in grouped.items():
        if isinstance(group, Param):
            table[key] = (None, group.apply, False, None)
        elif len(group) == 1 and len(group[0].path) == 1:
            f = group[0]
            table[key] = (f.attribute, f.convert, f.fallback, EXACT.get(f.convert))
        else:
            table[key] = (None, _compile_apply(group), False, None)
    return table


def compile_read(
    table: Mapping[str, RequestEntry], conventions: int, other: Callable[[Any, Any, int], None] | None
) -> Callable[..., None]:
    """One straight-line function that reads a compiled table from a request body: ``read(body, attrs,
    conventions=0)``, what :meth:`~._spec.Endpoint.read_request` does with its loop, without the loop.

    Each key is tested with ``in`` (OpenAI sends only the parameters set, so most tests miss, at C level) and read in
    the table's order, which gives what the loop gives whichever side it walks: a fallback field yields to its
    key's other field either way. A call in the other conventions' keys than ``conventions`` goes to ``other``
    (``None``: the columns are one table). Keys and attribute names are written in as literals, entries as globals.
    """
    namespace: dict[str, Any] = {"OTHER": other}
    lines = ["def read_request(body, attrs, conventions=0):"]
    if other is not None:
        lines += [f"    if conventions != {conventions!r}:", "        return OTHER(body, attrs, conventions)"]
    for n, (key, (attribute, read, fallback, exact)) in enumerate(table.items()):
        namespace[f"R{n}"] = read
        namespace[f"X{n}"] = exact
        lines += [f"    if {key!r} in body:", f"        v = body[{key!r}]", "        if v is not None:"]
        indent = " " * 12
        if attribute is None:
            lines.append(f"{indent}R{n}(v, attrs)")
            continue
        if fallback:
            lines.append(f"{indent}if {attribute!r} not in attrs:")
            indent += "    "
        if exact is not None:
            lines += [f"{indent}if v.__class__ is not X{n} or not v:", f"{indent}    v = R{n}(v)"]
        else:
            lines.append(f"{indent}v = R{n}(v)")
        lines += [f"{indent}if v is not None:", f"{indent}    attrs[{attribute!r}] = v"]
    if len(lines) == 1:
        lines.append("    return")
    exec("\n".join(lines), namespace)  # the source is built from the endpoint tables, never from input
    read_request: Callable[..., None] = namespace["read_request"]
    return read_request


def _compile_apply(fields: Sequence[Field]) -> Apply:
    """One function for every field under one top-level key.

    Each step reads a dict key (the usual: the SDK sends JSON) or else an attribute, so ``None`` or the SDK's omit
    sentinel ends a path, and a scalar where a dict was expected gives at most one of its methods, which the converter
    (they accept only the conventions' types) turns down.
    ``fallback`` keeps its meaning: the field sets its attribute only if no other key did. Attribute keys and path
    steps are written in as literals, converters bound as globals.
    """
    namespace: dict[str, Any] = {"ABSENT": ABSENT, "STEP": _step}
    lines = ["def apply(value, attrs):", "    if value.__class__ in ABSENT:", "        return"]
    for n, f in enumerate(fields):
        namespace[f"C{n}"] = f.convert
        key = repr(f.attribute)
        indent = "    "
        if f.fallback:
            lines.append(f"{indent}if {key} not in attrs:")
            indent += "    "
        lines.append(f"{indent}v = value")
        for step in f.path[1:]:
            lines.append(f"{indent}if v is not None:")
            lines.append(f"{indent}    v = v.get({step!r}) if v.__class__ is dict else STEP(v, {step!r})")
        lines.append(f"{indent}if v is not None:")
        lines.append(f"{indent}    v = C{n}(v)")
        lines.append(f"{indent}    if v is not None:")
        lines.append(f"{indent}        attrs[{key}] = v")
    exec("\n".join(lines), namespace)  # the source is built from the endpoint tables, never from input
    apply: Apply = namespace["apply"]
    return apply


def _step(obj: Any, key: str) -> Any:
    """A step below anything but a plain dict (those are read inline): a dict subclass, an object, ``None``."""
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
