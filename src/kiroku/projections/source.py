"""Where a runner's events come from.

The runner only needs "batches of stored events after a position". The journal
(pushed by appends, never polled) is the default; a message bus with
at-least-once delivery plugs in the same way, and tests inject duplicates and
reorderings here to prove they are harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from kiroku.domain.envelope import StoredEvent, utc_now
from kiroku.journal.protocol import Journal

__all__ = [
    "Acknowledging",
    "CatchUpSource",
    "EventSource",
    "JournalSource",
    "Prefetch",
    "lag_behind",
]


@runtime_checkable
class EventSource(Protocol):
    def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        """Batches of events after ``after``; may repeat or reorder, must not lose any."""
        ...


@runtime_checkable
class Acknowledging(Protocol):
    """A source told when a batch it yielded is committed (a bus acks it then, not before)."""

    async def settled(self, batch: Sequence[StoredEvent]) -> None: ...


class JournalSource:
    """Follows the journal: catches up, then waits for the next append."""

    def __init__(self, journal: Journal, batch_size: int = 1000) -> None:
        self.journal = journal
        self.batch_size = batch_size

    def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        return self.journal.subscribe(after, self.batch_size)


class CatchUpSource:
    """Reads the journal up to its head (or ``until``) and ends: for replays and rebuilds."""

    def __init__(self, journal: Journal, batch_size: int = 1000, until: int | None = None) -> None:
        self.journal = journal
        self.batch_size = batch_size
        self.until = until

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        while self.until is None or after < self.until:
            batch = await self.journal.read_all(after, self.batch_size)
            if self.until is not None:
                batch = [e for e in batch if e.position <= self.until]
            if not batch:
                return
            after = batch[-1].position
            yield batch


class Prefetch:
    """Asks for the next batch before the current one is applied, so journal reads (on
    the journal's own threads) overlap with applying: a catch-up costs max(read, apply).
    """

    def __init__(self, stream: AsyncIterator[Sequence[StoredEvent]]) -> None:
        self.stream = stream
        self.ahead: asyncio.Future[Sequence[StoredEvent]] | None = None

    async def next(self) -> Sequence[StoredEvent] | None:
        if self.ahead is None:
            self.ahead = asyncio.ensure_future(anext(self.stream))
        try:
            batch = await self.ahead
        except StopAsyncIteration:
            self.ahead = None
            return None
        self.ahead = asyncio.ensure_future(anext(self.stream))
        return batch

    async def close(self) -> None:
        ahead, self.ahead = self.ahead, None
        if ahead is not None:
            ahead.cancel()
            await asyncio.wait({ahead})
            if not ahead.cancelled():
                ahead.exception()  # retrieved: a late read error must not be logged as lost
        await _aclose(self.stream)


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()


async def lag_behind(journal: Journal, position: int) -> tuple[int, float]:
    """The journal's head, and how old the first event after ``position`` is (0 if none)."""
    head = await journal.head_position()
    if head <= position:
        return head, 0.0
    ahead = await journal.read_all(position, 1)
    age = (utc_now() - ahead[0].occurred_at).total_seconds() if ahead else 0.0
    return head, max(0.0, age)
