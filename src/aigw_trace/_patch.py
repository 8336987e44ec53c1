"""Replacing a method or function of someone else's code, and putting it back: the one way aigw-trace patches."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any


def patch(owner: Any, name: str, make: Callable[[Any], Callable[..., Any]]) -> Callable[[], None]:
    """Replace ``owner.name`` with ``make(original)`` and return the undo.

    A plain function rather than a ``wrapt`` proxy: these run on every SDK request, where a proxy's per-call binding
    and argument repacking cost more than the replacement's own work. ``functools.wraps`` keeps the name, docstring,
    signature and ``__wrapped__`` for ``inspect`` and other tools. The undo puts the original back only if ours is
    still the one in place; under someone else's later patch ours stays, inert once uninstalled.
    """
    original = getattr(owner, name)
    owned = name in vars(owner)
    replacement = functools.wraps(original)(make(original))
    setattr(owner, name, replacement)

    def undo() -> None:
        if vars(owner).get(name) is replacement:
            if owned:
                setattr(owner, name, original)
            else:
                delattr(owner, name)

    return undo
