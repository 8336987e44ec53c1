"""``python -m aigw_trace`` — the same as the ``aigw-trace`` command."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
