"""One journal read shared by the runners of a process.

Every runner of a host follows the same journal; reading it once per runner
costs a reader-thread trip and the decoding of every event, four times over.
A ``SharedFeed`` follows the journal once (``journal.subscribe``, woken by
appends) and keeps the last few batches it read; a runner whose position falls
inside them takes its events from there (``FeedSource``), and waits on the feed
when it is at the feed's position. A runner that is behind the batches kept (a
replay, a rebuild's catch-up, a slow projection) reads the journal itself until
it is back inside them. A runner's place is the last event it took, found in the
kept batches by identity: positions are not compared, since a journal may
deliver them out of order (``batch_after``).

Correctness rests on what the journal promises any reader: a read after ``p``
returns, in order, a prefix of every event after ``p`` (never a gap it fills in
later). So a batch the feed read is exactly what the runner would have read
itself from the same position, or a shorter prefix of it; each runner's
checkpoint, stream versions and ledger are kept as before, per runner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass

from kiroku.domain.closing import cancelled
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import Journal

__all__ = ["FeedSource", "FeedStats", "SharedFeed"]

KEEP_BATCHES = 32  # batches the feed keeps for runners a little behind


@dataclass(slots=True)
class FeedStats:
    """What the feed saved: batches it read once, and what runners read for themselves."""

    reads: int = 0  # batches the feed read from the journal
    events: int = 0  # events in them
    served: int = 0  # batches handed to a runner from the feed
    own_reads: int = 0  # batches runners read themselves (behind the feed)

    @property
    def events_per_batch(self) -> float:
        return self.events / self.reads if self.reads else 0.0


class FeedEndedError(Exception):
    """The journal's subscription ended (the journal closed): so do the runners'."""


class SharedFeed:
    """Follows the journal once for many runners; started by the first that asks."""

    def __init__(self, journal: Journal, batch_size: int = 1000) -> None:
        self.journal = journal
        self.batch_size = batch_size
        self.stats = FeedStats()
        # (position read after, batch): contiguous, each starts where the last ended
        self._kept: deque[tuple[int, Sequence[StoredEvent]]] = deque(maxlen=KEEP_BATCHES)
        self._position: int | None = None  # where the feed has read up to
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._ended: BaseException | None = None
        self._closed = False

    def _ensure(self, after: int) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        if self._position is None or after > self._position:
            self._position, self._kept = after, deque(maxlen=KEEP_BATCHES)
        self._ended = None
        self._task = asyncio.create_task(self._follow(self._position), name="journal feed")

    async def _follow(self, after: int) -> None:
        stream: AsyncIterator[Sequence[StoredEvent]] | None = None
        try:
            stream = self.journal.subscribe(after, self.batch_size)
            async for batch in stream:
                self._kept.append((after, batch))
                after = self._position = batch[-1].position
                self.stats.reads += 1
                self.stats.events += len(batch)
                self._wake()
        except Exception as e:  # told to every runner waiting, which handle it as before
            self._ended = e
        finally:
            with contextlib.suppress(Exception):
                await _aclose(stream)
            if self._ended is None:
                self._ended = FeedEndedError()
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def batch_after(self, after: int, limit: int) -> Sequence[StoredEvent] | None:
        """The events after ``after`` from the kept batches, up to ``limit`` (several
        joined: a runner slower than the appends still takes them in one batch, as it
        would reading itself); None if no kept batch holds ``after``, or nothing
        follows it yet.

        ``after`` is found by identity (a batch's start, or an event's position),
        never compared: a journal delivering out of position order (PostgreSQL's
        ``(tx, position)``) may deliver 2 after 4, and "the events after 4" are then
        those after the event 4 *in the batches*, not those numbered above 4."""
        found: list[StoredEvent] | None = None
        for start, batch in self._kept:
            if found is not None:
                if found and len(found) + len(batch) > limit:
                    break
                found.extend(batch)
            elif start == after:
                if len(batch) >= limit:
                    return batch
                found = list(batch)
            elif (i := _index(batch, after)) is not None:
                found = list(batch[i + 1 :])
        return found[:limit] if found else None

    def holds(self, after: int) -> bool:
        """Whether ``after`` is where the feed has read to, or in a kept batch."""
        if after == self._position:
            return True
        return any(start == after or _index(b, after) is not None for start, b in self._kept)

    async def next_after(self, after: int, limit: int) -> Sequence[StoredEvent] | None:
        """The next batch after ``after`` from the feed; None when the runner must read
        itself (behind the kept batches, or ahead of a feed that started later);
        raises what ended it."""
        self._ensure(after)
        while True:
            if (batch := self.batch_after(after, limit)) is not None:
                self.stats.served += 1
                return batch
            if not self.holds(after):
                return None
            changed = self._changed
            if self._ended is not None:
                raise self._ended
            await changed.wait()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        await cancelled(task)
        self._wake()


class FeedSource:
    """A runner's ``EventSource`` over a ``SharedFeed``: the feed's batches when the
    runner is within them, its own journal reads when it is behind."""

    def __init__(self, feed: SharedFeed, batch_size: int = 1000) -> None:
        self.feed = feed
        self.batch_size = batch_size

    async def batches(self, after: int) -> AsyncGenerator[Sequence[StoredEvent], None]:
        while True:
            try:
                batch = await self.feed.next_after(after, self.batch_size)
            except FeedEndedError:
                return
            if batch is None:
                batch = await self.feed.journal.read_all(after, self.batch_size)
                self.feed.stats.own_reads += 1
                if not batch:  # ahead of the feed, which has yet to read this far
                    batch = await self._wait_past(after)
                    if batch is None:
                        return
            after = batch[-1].position
            yield batch

    async def _wait_past(self, after: int) -> Sequence[StoredEvent] | None:
        """Follow the journal alone until the feed catches up (a feed restarted behind)."""
        stream = self.feed.journal.subscribe(after, self.batch_size)
        try:
            return await anext(stream, None)
        finally:
            await _aclose(stream)


def _index(batch: Sequence[StoredEvent], position: int) -> int | None:
    """Where the event at ``position`` is in ``batch`` (the last, most often)."""
    if batch and batch[-1].position == position:
        return len(batch) - 1
    for i, event in enumerate(batch):
        if event.position == position:
            return i
    return None


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
