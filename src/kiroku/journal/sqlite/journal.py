"""The embedded journal: one SQLite file, durable on every acknowledged append.

Design (docs/journal.md has the long form):

- WAL mode with ``synchronous=FULL``: a commit returns only after the WAL is
  fsynced, so an acknowledged append survives a crash or a power cut.
- One writer thread owns the only write connection and group-commits: appends
  from many streams that arrive together share one ``BEGIN IMMEDIATE``
  transaction and one fsync, each in its own savepoint (``writer``).
- Readers use their own connections on a small thread pool, so neither reads
  nor commits block the event loop (``reader``).
- Positions are assigned by the single writer in commit order, so a reader can
  never pass over an event that commits later with a smaller position.
- After each commit the writer wakes ``subscribe`` through an AppendSignal on
  the loop: no polling. Appends made by *another process* on the same file are
  read correctly but wake this process's subscribers only with its next append.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

from kiroku.domain.closing import ClosesOnExit
from kiroku.domain.envelope import Folded, NewEvent, StoredEvent
from kiroku.domain.streams import validate_stream
from kiroku.errors import InputError, JournalClosedError
from kiroku.journal.checks import check_append
from kiroku.journal.notify import AppendSignal, follow
from kiroku.journal.protocol import AppendResult, ExpectedVersion, Snapshot
from kiroku.journal.sqlite import queries as q
from kiroku.journal.sqlite import snapshots
from kiroku.journal.sqlite.reader import ReaderPool
from kiroku.journal.sqlite.schema import encode_events, encode_snapshot
from kiroku.journal.sqlite.wakeup import CrossProcessWakeup
from kiroku.journal.sqlite.writer import Writer, WriterStats

__all__ = ["SQLiteJournal", "WriterStats"]

log = logging.getLogger(__name__)


class SQLiteJournal(ClosesOnExit):
    """A Journal in one SQLite file. Create it with ``await SQLiteJournal.open(path)``.

    Use it from the event loop that opened it. ``stats`` counts commits and
    appends, so ``stats.appends / stats.commits`` shows how much group commit
    saved.
    """

    def __init__(self, path: str, *, readers: int, max_batch: int, busy_timeout: float) -> None:
        """Prefer ``open``: this only wires the parts; ``open`` starts them."""
        if readers < 1 or max_batch < 1:
            raise InputError(f"readers and max_batch must be >= 1, got {readers}, {max_batch}")
        self.path = path
        loop = asyncio.get_running_loop()
        self._writer = Writer(
            path,
            loop,
            self._committed,
            q.append_many,
            max_batch=max_batch,
            busy_timeout=busy_timeout,
        )
        self._readers = ReaderPool(path, readers, busy_timeout)
        self._head_reads = 0  # subscribers' reads at the head that found events
        self._head = 0
        self._signal: AppendSignal | None = None
        self._wakeup: CrossProcessWakeup | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        readers: int = 2,
        max_batch: int = 1000,
        busy_timeout: float = 5.0,
    ) -> SQLiteJournal:
        """Open (creating if needed) the journal file at ``path``.

        ``readers`` reader threads; at most ``max_batch`` writes per group commit;
        ``busy_timeout`` seconds to wait for another process holding the write lock.
        """
        journal = cls(
            os.fspath(path), readers=readers, max_batch=max_batch, busy_timeout=busy_timeout
        )
        try:
            journal._head = await journal._writer.start()
        except BaseException:
            await journal._readers.close()
            raise
        try:
            journal._wakeup = await CrossProcessWakeup.open(Path(path), journal._heard)
        except OSError as e:  # no Unix datagram sockets here: this process's appends still wake
            log.warning("journal %s: no wake-ups from other processes (%s)", path, e)
        return journal

    def __repr__(self) -> str:
        return f"SQLiteJournal({self.path!r})"

    @property
    def reads_at_head(self) -> int:
        """Subscribers' reads that found events on the loop, at the head (``run_now``)."""
        return self._head_reads

    @property
    def stats(self) -> WriterStats:
        return self._writer.stats

    @property
    def signal(self) -> AppendSignal:
        if self._signal is None:  # created lazily so it binds to the running loop
            self._signal = AppendSignal(self._head)
        return self._signal

    def _committed(self, head: int) -> None:
        """On the loop, after each commit: wake subscribers here and in other processes."""
        self._heard(head)
        if self._wakeup is not None:
            self._wakeup.announce(head)

    def _heard(self, head: int) -> None:
        """Events up to ``head`` are committed (by this process or another one)."""
        self._head = max(self._head, head)
        if self._signal is not None:
            self._signal.notify(head)

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosedError()

    # -- writes ------------------------------------------------------------------

    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult:
        self._check_open()
        check_append(stream, expected_version, events)
        request = q.Append(stream, expected_version, encode_events(events))
        return await self._writer.submit(request, events=len(events), append=request)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Durable on return. A big one is written in parts (see ``snapshots``), so
        appends never wait behind more than ``PART_SIZE`` bytes of it."""
        self._check_open()
        validate_stream(snapshot.stream)
        submit, data = self._writer.submit, snapshot.data
        if len(data) <= snapshots.PART_SIZE:
            encode_snapshot(snapshot)  # fail here, in the caller, if it cannot be stored
            stale = await submit(partial(snapshots.save_whole, snapshot))
        else:
            stream, version, size = snapshot.stream, snapshot.version, snapshots.PART_SIZE
            view, parts = memoryview(data), -(-len(data) // size)
            for part in range(parts):  # one at a time: each one its own commit
                chunk = view[part * size : (part + 1) * size]
                await submit(partial(snapshots.save_part, stream, version, part, parts, chunk))
            stale = await submit(partial(snapshots.use_parts, snapshot, parts))
        while stale:  # an older snapshot's parts, a part per commit too
            stale = await submit(
                partial(snapshots.delete_stale_part, snapshot.stream, snapshot.version)
            )

    async def delete_before(self, stream: str, version: int) -> int:
        self._check_open()
        validate_stream(stream)
        return await self._writer.submit(partial(q.delete_before, stream, version))

    # -- reads -------------------------------------------------------------------

    async def read_stream(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        self._check_open()
        query = partial(q.read_stream, stream, from_version, to_version)
        return await self._readers.run(query, f"reading stream {stream}")

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        self._check_open()
        query = partial(q.read_all, after_position, limit)
        return await self._readers.run(query, f"reading after position {after_position}")

    def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        self._check_open()
        return self._follow(after_position, batch_size)

    async def _follow(self, after: int, batch_size: int) -> AsyncIterator[list[StoredEvent]]:
        behind = True  # catching up: reads go to the threads, overlapping with the caller

        async def read(position: int, limit: int) -> list[StoredEvent]:
            nonlocal behind
            if behind:
                batch = await self.read_all(position, limit)
            else:  # at the head (the last read was short): a few events, read here
                self._check_open()
                query = partial(q.read_all, position, limit)
                batch = self._readers.run_now(query, f"reading after position {position}")
                self._head_reads += bool(batch)
            behind = len(batch) >= limit
            return batch

        batches = follow(read, self.signal, after, batch_size)
        try:
            async for batch in batches:
                yield batch
        except JournalClosedError:  # closed while a read was in flight: the end, not an error
            return
        finally:
            if isinstance(batches, AsyncGenerator):
                await batches.aclose()

    async def head_position(self) -> int:
        self._check_open()
        return await self._readers.run(q.head_position, "reading the head position")

    async def stream_version(self, stream: str) -> int:
        self._check_open()
        return await self._readers.run(partial(q.stream_version, stream), f"reading {stream}")

    async def get_event(self, position: int) -> StoredEvent:
        self._check_open()
        return await self._readers.run(partial(q.get_event, position), f"reading {position}")

    async def find_event(self, event_id: uuid.UUID) -> StoredEvent:
        self._check_open()
        return await self._readers.run(partial(q.find_event, event_id), f"finding {event_id}")

    async def position_at(self, when: datetime) -> int:
        self._check_open()
        if when.tzinfo is None:
            raise InputError(f"position_at needs a timezone-aware datetime, got {when}")
        return await self._readers.run(partial(q.position_at, when), f"finding {when}")

    async def load_snapshot(self, stream: str) -> Snapshot | None:
        self._check_open()
        query = partial(q.load_snapshot, stream)
        return await self._readers.run(query, f"loading the snapshot of {stream}")

    async def recovery_read(
        self, stream: str
    ) -> tuple[Snapshot | None, int, list[StoredEvent], list[Folded]]:
        """The snapshot, the stream's version and the events after the snapshot (whole,
        or all of them Folded), in one trip to a reader thread: what recovering an
        aggregate reads (``Rehydrator``)."""
        self._check_open()
        query = partial(q.recovery_read, stream)
        return await self._readers.run(query, f"recovering {stream}")

    async def close(self) -> None:
        """Finish the writes already queued, wake and end subscribers, close connections."""
        if self._closed:
            return
        self._closed = True
        await self._writer.stop()
        if self._wakeup is not None:
            self._wakeup.close()
        if self._signal is not None:
            self._signal.close()
        await self._readers.close()
