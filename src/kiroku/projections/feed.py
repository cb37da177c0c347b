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

On a SQLite journal the feed reads on the event loop, over a connection of its
own, whenever its last read found less than a full batch (it is at the head):
a read of the few events one wake-up brings costs a fraction of a millisecond,
less than the hop to the journal's reader threads and back, and under load that
hop waited for the GIL and for a core: p50 2, p90 30 ms for ~40 events. A read
that fills a batch (catching up) means more are waiting, so the next one goes to
the reader threads again and overlaps with the runners applying this one.

Correctness rests on what the journal promises any reader: a read after ``p``
returns, in order, a prefix of every event after ``p`` (never a gap it fills in
later). So a batch the feed read is exactly what the runner would have read
itself from the same position, or a shorter prefix of it; each runner's
checkpoint, stream versions and ledger are kept as before, per runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from kiroku.domain.envelope import StoredEvent
from kiroku.errors import JournalClosedError
from kiroku.journal.protocol import Journal
from kiroku.journal.sqlite import queries
from kiroku.journal.sqlite.journal import SQLiteJournal
from kiroku.journal.sqlite.schema import convert_error

__all__ = ["FeedSource", "FeedStats", "SharedFeed"]

KEEP_BATCHES = 32  # batches the feed keeps for runners a little behind


@dataclass(slots=True)
class FeedStats:
    """What the feed saved: batches it read once, and what runners read for themselves."""

    reads: int = 0  # batches the feed read from the journal
    on_loop: int = 0  # of them, read on the loop (at the head of a SQLite journal)
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
        self._conn: sqlite3.Connection | None = None  # the loop's reads of a SQLite journal

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
            stream = self._batches(after)
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

    def _batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        journal = self.journal
        if not isinstance(journal, SQLiteJournal):
            return journal.subscribe(after, self.batch_size)
        if self._conn is None:
            self._conn = _reader(journal.path)
        conn = self._conn
        return self._follow_sqlite(journal, lambda a, n: queries.read_all(a, n, conn), after)

    async def _follow_sqlite(
        self,
        journal: SQLiteJournal,
        read_now: Callable[[int, int], list[StoredEvent]],
        after: int,
    ) -> AsyncIterator[Sequence[StoredEvent]]:
        """``journal.subscribe`` (the same rules: see ``kiroku.journal.notify.follow``),
        reading on the loop while at the head and on the journal's threads while behind."""
        signal, size, behind = journal.signal, self.batch_size, True
        while not signal.closed:
            seen = signal.head
            if behind:
                try:
                    batch: Sequence[StoredEvent] = await journal.read_all(after, size)
                except JournalClosedError:  # closed during the read: the end, as subscribe's
                    return
            else:
                try:
                    batch = read_now(after, size)
                except sqlite3.Error as e:
                    raise convert_error(e, f"reading after position {after}") from e
                self.stats.on_loop += bool(batch)
            behind = len(batch) >= size
            if batch:
                after = batch[-1].position
                yield batch
            elif seen > after:  # deleted behind a snapshot: committed before the read
                after = seen
            else:
                await signal.wait_beyond(after)

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
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._conn is not None:
            self._conn.close()
            self._conn = None
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


def _reader(path: str) -> sqlite3.Connection:
    """A read-only connection to the journal, for reads on the loop (WAL: never blocked
    by the writer, and seeing every commit whose wake-up has been heard). A short busy
    timeout: a read that would wait fails instead, and is retried as any journal error."""
    conn = sqlite3.connect(path, timeout=1.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


async def _aclose(stream: object) -> None:
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
