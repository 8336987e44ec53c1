"""How each ``instrument()`` option's value is checked: as a keyword, and as read from its environment variable.

The kinds the options table (``_options``) is made of, and the checks behind them.
"""

from __future__ import annotations

import enum
import importlib
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ._gateway_headers import PRESETS, header_problem


class ContentMode(enum.Enum):
    """Where prompt and completion content goes. Content is never captured unless asked for."""

    NO_CONTENT = "no_content"
    SPAN_ONLY = "span_only"
    EVENT_ONLY = "event_only"
    SPAN_AND_EVENT = "span_and_event"

    @property
    def on_span(self) -> bool:
        return self in (ContentMode.SPAN_ONLY, ContentMode.SPAN_AND_EVENT)

    @property
    def on_event(self) -> bool:
        return self in (ContentMode.EVENT_ONLY, ContentMode.SPAN_AND_EVENT)


MIN_CONTENT_MAX_LENGTH = 64
"""The smallest ``content_max_length``: room for the truncation marker, so bounded content stays valid JSON."""


class Kind:
    """How an option's value is checked when passed as a keyword and read from its environment variable.

    ``keyword()`` raises ``TypeError`` (wrong type) or ``ValueError`` (wrong value) with a short detail;
    ``env()`` raises ``ValueError`` when nothing usable is left and calls ``warn`` for parts it drops.
    """

    annotation = ""
    """As written in ``instrument()``'s signature."""
    accepted = ""
    """Accepted keyword values, for errors and docs."""
    env_accepted = ""
    """Accepted environment spellings, for warnings and docs."""

    def keyword(self, value: object) -> object:
        raise NotImplementedError

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        raise NotImplementedError

    def show(self, value: object) -> str:
        """``value`` as the environment would spell it."""
        return str(value)


class BoolKind(Kind):
    annotation = "bool | None"
    accepted = "True or False"
    env_accepted = "`true`, `false` (any case)"

    def keyword(self, value: object) -> object:
        # A string is never a bool here: "false" is truthy, and propagate="false" must not mean "inject".
        if isinstance(value, bool):
            return value
        raise TypeError(f"a {type(value).__name__} is not a bool")

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("")

    def show(self, value: object) -> str:
        return str(value).lower()


_MODES = {mode.value: mode for mode in ContentMode}
_ENV_MODES = {**_MODES, "true": ContentMode.SPAN_ONLY, "false": ContentMode.NO_CONTENT}  # the OTel env spelling


class ContentKind(Kind):
    annotation = "ContentMode | str | bool | None"
    accepted = "a ContentMode, its name (" + ", ".join(f'"{m}"' for m in _MODES) + ", any case), True or False"
    env_accepted = ", ".join(f"`{m}`" for m in _MODES) + " (any case); `true` = `span_only`, `false` = `no_content`"

    def keyword(self, value: object) -> object:
        if isinstance(value, ContentMode):
            return value
        if isinstance(value, bool):
            return ContentMode.SPAN_ONLY if value else ContentMode.NO_CONTENT
        if not isinstance(value, str):
            raise TypeError(f"a {type(value).__name__} is not a content mode")
        mode = _MODES.get(value.strip().lower())
        if mode is None:
            raise ValueError("unknown content capture mode")
        return mode

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        mode = _ENV_MODES.get(text.lower())
        if mode is None:
            raise ValueError("unknown content capture mode")
        return mode

    def show(self, value: object) -> str:
        return value.value if isinstance(value, ContentMode) else str(value)


class LengthKind(Kind):
    annotation = "int | None"
    accepted = f"an int ≥ {MIN_CONTENT_MAX_LENGTH}"
    env_accepted = f"a decimal integer ≥ {MIN_CONTENT_MAX_LENGTH}"

    def keyword(self, value: object) -> object:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise TypeError(f"a {type(value).__name__} is not an int")
        value = operator.index(value)  # an int, or an int-like such as numpy.int64
        if value < MIN_CONTENT_MAX_LENGTH:
            raise ValueError(f"below {MIN_CONTENT_MAX_LENGTH}")
        return value

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        if not text.isdecimal() or not text.isascii():
            raise ValueError("")
        value = int(text)
        if value < MIN_CONTENT_MAX_LENGTH:
            raise ValueError("")
        return value


def _raise(problem: str) -> None:
    raise ValueError(problem)


class NamesKind(Kind):
    """A list of names: a comma-separated string or an iterable of strings, stored as a tuple of lower-case names."""

    annotation = "str | Iterable[str] | None"

    def __init__(self, what: str, accepted: str, problem: Callable[[str], str | None]) -> None:
        self.what = what
        self.accepted = f"{accepted}, as a list or a comma-separated string"
        self.env_accepted = f"{accepted}, comma-separated"
        self.problem = problem

    def keyword(self, value: object) -> object:
        if isinstance(value, str):
            return self._names(value.split(","), _raise)
        if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
            return self._names(value, _raise)
        raise TypeError(f"a {type(value).__name__} is not a str or a list of str")

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        # Drop only a bad name: one bad entry must not turn off the others.
        return self._names(text.split(","), lambda problem: warn(f"dropping {problem}"))

    def _names(self, items: Iterable[object], bad: Callable[[str], None]) -> tuple[str, ...]:
        names = []
        for item in items:
            if not isinstance(item, str):
                raise TypeError(f"{item!r} is not a str")
            name = item.strip().lower()
            problem = self.problem(name) if name else None
            if problem:
                bad(f"{self.what} {name!r}: {problem}")
            elif name:
                names.append(name)
        return tuple(dict.fromkeys(names))

    def show(self, value: object) -> str:
        return ",".join(value) if isinstance(value, tuple) else str(value)


class HookKind(Kind):
    def __init__(self, annotation: str, params: str) -> None:
        self.annotation = f"{annotation} | None"
        self.accepted = f"a callable ({params}) -> None"
        self.env_accepted = "an import path `package.module:function`"

    def keyword(self, value: object) -> object:
        if not callable(value):
            raise TypeError(f"a {type(value).__name__} is not callable")
        return value

    def env(self, text: str, warn: Callable[[str], None]) -> object:
        module_name, sep, qualname = text.partition(":")
        if not sep or not module_name or not qualname:
            raise ValueError("not of the form package.module:function")
        try:
            found: Any = importlib.import_module(module_name)
            for part in qualname.split("."):
                found = getattr(found, part)
        except Exception as exc:  # an ImportError, or anything the module raises while importing
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        if not callable(found):
            raise ValueError(f"{qualname} is not callable")
        return found


_HOST = re.compile(r"(\*\.)?[^\s/*:@]+|[0-9a-f:]+")  # a host name or IP address, optionally `*.suffix`; no URL


def host_problem(pattern: str) -> str | None:
    return None if _HOST.fullmatch(pattern) else "not a host name or *.suffix (no scheme, port or path)"


def preset_problem(preset: str) -> str | None:
    return None if preset in PRESETS else "unknown gateway preset"


def session_header_problem(header: str) -> str | None:
    problem = header_problem(header)
    # Sending the conversation id under a credential-like name is odd but harmless; only the syntax matters here.
    return problem if problem == "not an HTTP header name" else None


BOOL = BoolKind()
