"""The response side of an endpoint's tables, compiled into a :class:`Reader`: one fetch per object on the way.

Compiled on the endpoint's first read (``lazy=True``), not when it is defined; ``_request`` is the request side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from opentelemetry.util.types import AttributeValue

from ._values import EXACT as _EXACT
from ._values import Convert

if TYPE_CHECKING:
    from ._spec import Field

__all__ = ["Reader", "Store"]


_Leaf = tuple[int, str, Convert, "type | None"]
"""(index of the fetched value, attribute, converter, the class the converter passes through unchanged)."""


_MAX_WALKED = 256

Store = Callable[[Any, "dict[str, AttributeValue]"], None]
"""Puts fetched values into span attributes, converting each as its field says."""


def _compile_store(leaves: Sequence[_Leaf], fetch: Callable[[Any], Any] | None = None, walked: set[type] | None = None,
                   walk: Store | None = None) -> Store:  # fmt: skip
    """One straight-line function for a set of leaves, generated once per reader level.

    This runs on every response: unrolled, each value costs a type check and a store instead of a loop iteration
    that unpacks its leaf. A value already of the attribute's type (a non-empty ``str``, an ``int``…) skips its
    converter; anything else (an empty string, another type) goes through it, which has the last word.
    Attribute keys are written in as literals, converters and types are bound as globals.

    With ``fetch`` the function takes the response itself (the root's one flat fetch, see :class:`Reader`): a dict,
    or a class the fetch failed on before, goes to ``walk`` instead.
    """
    namespace: dict[str, Any] = {"FETCH": fetch, "WALKED": walked, "WALK": walk, "MAX_WALKED": _MAX_WALKED}
    if fetch is None:
        lines = ["def store(values, attrs):"]
    else:
        lines = [
            "def store(obj, attrs):",
            "    cls = obj.__class__",
            "    if cls is dict or cls in WALKED:",
            "        return WALK(obj, attrs)",
            "    try:",
            "        values = FETCH(obj)",
            "    except Exception:",
            "        if len(WALKED) < MAX_WALKED:",
            "            WALKED.add(cls)",
            "        return WALK(obj, attrs)",
        ]
    for n, (index, attribute, convert, exact) in enumerate(leaves):
        namespace[f"C{n}"] = convert
        key = repr(attribute)
        lines.append(f"    v = values[{index}]")
        if exact is not None:
            namespace[f"E{n}"] = exact
            empty = " and v" if exact is str else ""  # an empty string is no value
            lines.append(f"    if v.__class__ is E{n}{empty}:")
            lines.append(f"        attrs[{key}] = v")
            lines.append("    elif v is not None:")
        else:
            lines.append("    if v is not None:")
        lines.append(f"        v = C{n}(v)")
        lines.append("        if v is not None:")
        lines.append(f"            attrs[{key}] = v")
    if not leaves:
        lines.append("    pass")
    exec("\n".join(lines), namespace)  # the source is built from the endpoint tables above, never from input
    store: Store = namespace["store"]
    return store


def _store_nothing(values: Any, attrs: dict[str, AttributeValue]) -> None:
    """The store of a reader level without leaves of its own (only objects below it)."""


class Reader:
    """Response fields compiled into a tree of fetches: one per object on the way, not one per field.

    At each level a single C-level :func:`operator.attrgetter` call reads every name an SDK model is asked for (a
    plain dict, from a raw JSON body or a stream summary, answers through ``dict.get``); a ``None`` ends that branch,
    so a usage object without ``prompt_tokens_details`` costs nothing extra. Each value then goes through its
    converter, so what reaches the span has the conventions' types.

    The root also holds one flat fetch of every full path: a complete SDK model (the usual case) is read in one call,
    and only a ``None`` on the way or a dict walks the tree.

    An endpoint's readers are made with ``lazy=True``: nothing is generated until the first response is read. Until
    then :attr:`read` is a stub that compiles the reader, puts the compiled function in its own place and runs it,
    so every later read calls the compiled function directly, with no check of its own. Two threads reading first
    at once each compile an equal reader; whichever stores last stays.
    """

    __slots__ = ("_children", "_fetch", "_fields", "_names", "_single", "_store", "_walked", "read")

    read: Store
    """``read(response, attrs)``: add what the response says to ``attrs``."""

    def __init__(self, fields: Sequence[Field], depth: int = 0, *, lazy: bool = False) -> None:
        if lazy:
            self._fields = tuple(fields)
            self.read = self._compile_and_read
            return
        groups: dict[str, list[Field]] = {}
        leaves: list[_Leaf] = []
        for f in fields:
            name = f.path[depth]
            below = groups.setdefault(name, [])
            if len(f.path) == depth + 1:
                leaves.append((list(groups).index(name), f.attribute, f.convert, _EXACT.get(f.convert)))
            else:
                below.append(f)
        names = tuple(groups)
        self._names = names
        self._store = _compile_store(leaves) if leaves else _store_nothing
        self._children = tuple((names.index(n), Reader(below, depth + 1)) for n, below in groups.items() if below)
        self._single = len(names) == 1
        self._fetch = attrgetter(*names) if names else None
        self._walked: set[type] = set()
        """Classes the flat fetch failed on once (a field the model does not have, a ``None`` on the way): they are
        walked from then on rather than raising each time. Bounded by the SDK's model classes."""
        if depth == 0 and len(fields) > 1 and self._children:
            flat = [(i, f.attribute, f.convert, _EXACT.get(f.convert)) for i, f in enumerate(fields)]
            fetch = attrgetter(*(".".join(f.path) for f in fields))
            self.read = _compile_store(flat, fetch, self._walked, self._walk)
        else:
            self.read = self._walk

    def _compile_and_read(self, obj: Any, attrs: dict[str, AttributeValue]) -> None:
        """The first read of a lazy reader: compile, take the compiled function's place, read."""
        read = type(self)(self._fields).read
        self.read = read  # one store: a concurrent first read sees either this stub or a complete reader
        read(obj, attrs)

    def _walk(self, obj: Any, attrs: dict[str, AttributeValue]) -> None:
        names = self._names
        if not names:
            return
        values: Any
        if obj.__class__ is dict:
            values = tuple(map(obj.get, names))
        else:
            try:
                values = self._fetch(obj)  # type: ignore[misc]
                if self._single:
                    values = (values,)
            except Exception:  # a field a gateway left out of a model, or an odd object
                values = [getattr(obj, name, None) for name in names]
        self._store(values, attrs)
        for index, child in self._children:
            value = values[index]
            if value is not None:
                child._walk(value, attrs)
