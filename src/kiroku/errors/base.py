"""The root of the tree: ``except KirokuError`` catches everything kiroku raises on purpose."""

from __future__ import annotations

__all__ = [
    "KirokuError",
]


class KirokuError(Exception):
    """The root: ``except KirokuError`` catches everything kiroku raises on purpose."""
