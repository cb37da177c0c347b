"""The catalog of read stores: the protocol both backends' catalogs implement."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from kiroku.projections.readstore import ReadStore
from kiroku.projections.skips import SkipBook

__all__ = ["StoreCatalog"]


class StoreCatalog(Protocol):
    """Which generation of each projection serves, and where each generation lives.

    A rebuild builds generation N+1 beside the serving N and ``swap``s: one
    change, so readers move to the new generation at once; N is kept until the
    next swap for readers still on it. The catalog also keeps the operators'
    skips, which outlive every generation.
    """

    @property
    def where(self) -> str: ...

    def present(self) -> bool: ...

    def generation(self, name: str) -> int: ...

    def location(self, name: str, generation: int) -> str: ...

    def open(self, name: str, generation: int) -> ReadStore: ...

    def swap(self, name: str, generation: int) -> None: ...

    def rebuilding(self, name: str) -> AbstractContextManager[None]:
        """Be the only rebuild of ``name`` (``InputError`` if another process runs one)."""
        ...

    def fence(self, name: str, generation: int) -> AbstractContextManager[None]:
        """Hold off every other writer of ``generation`` (lanes in other processes) until
        the block ends, then retire it: for a rebuild's last events and its swap."""
        ...

    def discard(self, name: str, generation: int) -> None: ...

    def skip_book(self) -> SkipBook: ...

    def close(self) -> None: ...
