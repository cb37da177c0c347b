"""The idempotency window of one aggregate: recent keys and what their commands did.

A retried command with a key seen here is answered from the book instead of
running again. The book is bounded (oldest keys fall out first) and is rebuilt
on recovery from two sources: the snapshot's metadata (receipts only, because
the events behind a snapshot may have been deleted) and the events replayed
after it (full results, because their events and states are at hand).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from kiroku.domain.envelope import JSON, Metadata
from kiroku.runtime.result import CommandResult, Receipt

__all__ = ["RECEIPTS_METADATA", "Entry", "ReceiptBook"]

S = TypeVar("S")
E = TypeVar("E")

RECEIPTS_METADATA = "receipts"
"""The snapshot metadata entry holding the book as ``[[key, fv, v, fp, p], ...]``."""


@dataclass(frozen=True, slots=True)
class Entry(Generic[S, E]):
    """A remembered key: always its receipt, and the full result while it is at hand."""

    receipt: Receipt
    result: CommandResult[S, E] | None


class ReceiptBook(Generic[S, E]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, Entry[S, E]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry[S, E] | None:
        return self._entries.get(key)

    def remember(self, receipt: Receipt, result: CommandResult[S, E] | None = None) -> None:
        if self.capacity <= 0:
            return
        self._entries[receipt.key] = Entry(receipt, result)
        self._entries.move_to_end(receipt.key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def to_json(self) -> list[JSON]:
        return [entry.receipt.to_json() for entry in self._entries.values()]

    def load(self, metadata: Metadata) -> int:
        """Add the receipts a snapshot carried; return how many were usable."""
        rows = metadata.get(RECEIPTS_METADATA)
        if not isinstance(rows, list):
            return 0
        count = 0
        for row in rows:
            receipt = Receipt.from_json(row)
            if receipt is not None:
                self.remember(receipt)
                count += 1
        return count
