"""One module per SDK, each exporting a ``PROVIDER`` description; see ``_spec`` for the vocabulary."""

from __future__ import annotations

import importlib

from ._spec import Provider

PROVIDER_MODULES: tuple[str, ...] = ("aigw_trace._providers.openai", "aigw_trace._providers.anthropic")
"""Provider modules, imported only once their SDK is (so neither SDK is ever imported by us first)."""


def providers() -> tuple[Provider, ...]:
    """Every provider's description (importing a provider module imports no SDK)."""
    return tuple(importlib.import_module(name).PROVIDER for name in PROVIDER_MODULES)
