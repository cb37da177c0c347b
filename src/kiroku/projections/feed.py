"""One journal read shared by the runners of a process.

Every runner of a host follows the same journal; reading it once per runner
costs a reader-thread trip and the decoding of every event, four times over.
A ``SharedFeed`` follows the journal once (``journal.subscribe``, woken by
appends) and keeps the last few batches it read; a runner whose position falls
inside them takes its events from there (``FeedSource``), and waits on the feed
when it is at the feed's position. A runner that is behind the batches kept (a
replay, a rebuild's catch-up, a slow projection) reads the journal itself until
it is back inside them. A runner's place is the last event it took, found in the
kept batches by identity, through a dict from each kept position to its batch:
positions are not compared, since a journal may deliver them out of order
(``batch_after``), and a scan of the kept batches cost the projector a tenth of
its time under load.

Correctness rests on what the journal promises any reader: a read after ``p``
returns, in order, a prefix of every event after ``p`` (never a gap it fills in
later). So a batch the feed read is exactly what the runner would have read
itself from the same position, or a shorter prefix of it; each runner's
checkpoint, stream versions and ledger are kept as before, per runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
        self._kept = _Kept()
        self._position: int | None = None  # where the feed has read up to
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._ended: BaseException | None = None
        self._closed = False

    def _ensure(self, after: int) -> None:
        if self._closed or (self._task is not None and not self._task.done()):
            return
        if self._position is None or after > self._position:
            self._position, self._kept = after, _Kept()
        self._ended = None
        self._task = asyncio.create_task(self._follow(self._position), name="journal feed")

    async def _follow(self, after: int) -> None:
        stream: AsyncIterator[Sequence[StoredEvent]] | None = None
        try:
            stream = self.journal.subscribe(after, self.batch_size)
            async for batch in stream:
                self._kept.add(after, batch)
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
        place = self._kept.place(after)
        if place is None:
            return None
        first, i = place
        batches = self._kept.batches
        head = batches[first]
        if i == 0 and len(head) >= limit:  # the common case, without a copy
            return head if len(head) == limit else head[:limit]
        found = list(head[i:])
        for batch in itertools.islice(batches, first + 1, None):
            if found and len(found) + len(batch) > limit:
                break
            found.extend(batch)
        return found[:limit] if found else None

    def holds(self, after: int) -> bool:
        """Whether ``after`` is where the feed has read to, or in a kept batch."""
        if after == self._position:
            return True
        return self._kept.place(after) is not None

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


class _Kept:
    """The last :data:`KEEP_BATCHES` batches the feed read, contiguous (each starts
    where the one before ended), and where each position in them is."""

    def __init__(self) -> None:
        self.batches: deque[Sequence[StoredEvent]] = deque()
        self._starts: deque[int] = deque()  # the position each batch was read after
        self._first = 0  # the serial number of ``batches[0]``
        # position -> (serial of a batch, index in it of the event *after* position):
        # each batch's start, and each of its events but the last (the next one's start)
        self._after: dict[int, tuple[int, int]] = {}

    def add(self, start: int, batch: Sequence[StoredEvent]) -> None:
        if not batch:
            return
        if len(self.batches) == KEEP_BATCHES:
            self._drop_oldest()
        serial = self._first + len(self.batches)
        self.batches.append(batch)
        self._starts.append(start)
        where = self._after
        where[start] = (serial, 0)
        for i, event in enumerate(batch[:-1], 1):
            where[event.position] = (serial, i)

    def place(self, after: int) -> tuple[int, int] | None:
        """(batch index, event index) of the first kept event after ``after``; None
        unless ``after`` is a kept batch's start or a kept event other than the newest."""
        found = self._after.get(after)
        if found is None:
            return None
        serial, i = found
        return serial - self._first, i

    def _drop_oldest(self) -> None:
        oldest, start = self.batches.popleft(), self._starts.popleft()
        serial = self._first
        self._first += 1
        for position in (start, *(e.position for e in oldest[:-1])):
            if self._after.get(position, (-1, 0))[0] == serial:
                del self._after[position]


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
