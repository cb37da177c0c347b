"""Adapting the consumption ledger into a blast-radius witness.

The projection ledger answers, per projection and position, what happened
(applied, parked, not subscribed...). A retraction report wants only the
consumers whose read models now contain the voided event, so ``applied`` and
``deferred`` (applied in a later batch) count as processed, ``parked`` is shown
as such, and the rest are left out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from kiroku.corrections.service import Exposure

__all__ = ["LedgerEntryLike", "LedgerWitness"]

_OUTCOMES = {"applied": "processed", "deferred": "processed", "parked": "parked"}


class LedgerEntryLike(Protocol):
    @property
    def projection(self) -> str: ...

    @property
    def outcome(self) -> str: ...

    @property
    def processed_at(self) -> datetime | None: ...


LedgerLookup = Callable[[int], Awaitable[Iterable[LedgerEntryLike | None]]]
"""Every consumer's ledger entry for one position (None where a consumer has none)."""


class LedgerWitness:
    def __init__(self, lookup: LedgerLookup) -> None:
        self.lookup = lookup

    async def exposures(self, position: int) -> Sequence[Exposure]:
        out: list[Exposure] = []
        for entry in await self.lookup(position):
            if entry is None:
                continue
            outcome = _OUTCOMES.get(str(entry.outcome))
            if outcome is not None:
                out.append(Exposure(entry.projection, outcome, entry.processed_at))
        return out
