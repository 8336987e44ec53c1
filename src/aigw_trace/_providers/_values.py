"""Values out of bodies of any shape, and the converters that turn them into attribute values.

A body is an SDK model, a raw JSON dict, a stream summary or a gateway's odd variant of either; the helpers here read
them all alike and never raise on a missing key or a wrong type. Converters drop what the conventions' types do not
allow, so what reaches a span has the right type or is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry.util.types import AttributeValue

Path = tuple[str, ...]
"""A path into a body: ``("usage", "prompt_tokens")``."""

Convert = Callable[[Any], "AttributeValue | None"]
"""Turns a raw value into an attribute value, or ``None`` to leave the attribute out (wrong type, odd value)."""


_R = TypeVar("_R", bound="Record")


class Record:
    """An immutable value with named fields (its ``__slots__``), equal and hashed by value: what a frozen
    ``dataclass`` or a ``NamedTuple`` gives, without generating methods for each class when the module is imported
    (which made up most of ``instrument()``'s cost for the table vocabulary). A subclass declares ``__slots__`` and an
    ``__init__`` that sets each field with ``object.__setattr__``."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and other.__class__ is self.__class__ and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}: a {type(self).__name__} is immutable")

    def _replace(self: _R, **changes: Any) -> _R:
        """A copy with ``changes`` (field name → value)."""
        return type(self)(**{**{name: getattr(self, name) for name in self.__slots__}, **changes})


def dig(obj: Any, path: Path) -> Any:
    """Follow ``path`` through attributes or dict keys; ``None`` as soon as a step is missing."""
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
    return obj


def member(obj: Any, name: str) -> Any:
    """``obj.name`` or ``obj[name]`` if the response has it, else ``None``, without the cost of a failed lookup on an
    SDK model (pydantic answers those by raising). For keys only odd bodies carry, such as a gateway's ``error``."""
    if obj.__class__ is dict:
        return obj.get(name)
    values = getattr(obj, "__dict__", None)
    if values is not None and name in values:
        return values[name]
    extra = getattr(obj, "__pydantic_extra__", None)
    if extra:
        return extra.get(name)
    return None if values is not None else getattr(obj, name, None)


# --- converters: they never raise and drop what the conventions' types do not allow ---


def as_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def as_bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def as_str_list(value: Any) -> list[str] | None:
    """A string or a list of strings (``stop`` accepts both) as a string list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def mapped(values: Mapping[str, AttributeValue]) -> Convert:
    """A converter from the strings a provider uses to the conventions' values (``json_schema`` → ``json``);
    any other value, or another type, is left out."""

    def convert(value: Any) -> AttributeValue | None:
        return values.get(value) if value.__class__ is str else None

    return convert


EXACT: dict[Any, type] = {as_str: str, as_int: int, as_float: float}
"""A value of exactly this class is what the converter would return unchanged, so a compiled table skips the call."""
