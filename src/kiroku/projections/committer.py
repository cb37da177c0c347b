"""Committing a projection's batches: the read-model change, the checkpoint, the
stream versions and the ledger in one read-store transaction.

The committer owns what a runner caches about its store (stream versions,
events deferred behind a gap, streams held behind a parked event, operators'
skips) and is the only code that moves them, so operator actions (retry, skip,
rewind for a replay) go through its methods rather than into a runner. The
fast path runs a whole batch without savepoints; when a handler fails, the
batch is rolled back, the good prefix is committed again, and only the failing
event goes through retry-with-backoff and, if it keeps failing, parking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from kiroku.corrections.compensation import Compensation
from kiroku.domain.envelope import StoredEvent
from kiroku.errors import HandlerError, InputError
from kiroku.journal.protocol import Journal
from kiroku.projections import checkpoint, ledger
from kiroku.projections.apply import Applier
from kiroku.projections.lanes import GenerationMovedError, Lane, lane_turn
from kiroku.projections.model import FailurePolicy, Outcome, ParkedEvent
from kiroku.projections.projection import Projection
from kiroku.projections.readstore import ReadStore, Tx
from kiroku.projections.rebuild_needed import RebuildWatch
from kiroku.projections.skips import Skip, SkipBook
from kiroku.projections.store import is_store_failure
from kiroku.projections.work import BatchWork, merged
from kiroku.schema.codec import Codec

__all__ = ["Committer", "StoppedError"]

log = logging.getLogger("kiroku.projections")


class StoppedError(Exception):
    """Policy ``stop`` parked an event: processing ends at that position."""


class Committer:
    def __init__(
        self,
        projection: Projection,
        journal: Journal,
        store: ReadStore,
        codec: Codec,
        skips: SkipBook,
        on_commit: Callable[[BatchWork], None],
    ) -> None:
        self.name = projection.name
        self._alone = not projection.partition_local  # lanes of it take turns
        self.journal = journal
        self.store = store
        self.skips = skips
        self.position, self.batch = 0, 0
        self.lane: Lane | None = None  # one of several processes sharing the partitions
        self.parked_count = 0
        self.duplicates = 0
        self._on_commit = on_commit
        self._versions: dict[str, int] = {}
        self._blocked: set[str] = set()
        self._pending: dict[str, dict[int, StoredEvent]] = {}
        self._skipped: dict[int, Skip] = {}
        self._applier = Applier(
            projection, codec, self._version_of, self._blocked, journal, self._skipped
        )

    @property
    def compensation(self) -> Compensation:
        return self._applier.compensation

    @property
    def subscribed(self) -> frozenset[str]:
        """Stored type names this projection takes (aliases and retractions included)."""
        return self._applier.names

    @property
    def deferred(self) -> dict[str, dict[int, StoredEvent]]:
        """Events received ahead of a gap, by stream and version, waiting for it to close."""
        return {stream: dict(waiting) for stream, waiting in self._pending.items()}

    @property
    def watch(self) -> RebuildWatch | None:
        return self._applier.watch

    def reload(self) -> None:
        """Re-read everything cached from the store (another process may have changed it)."""
        conn = self.store.conn
        if self.lane is None:
            self.position, self.batch = checkpoint.load_checkpoint(conn)
        else:
            with contextlib.suppress(GenerationMovedError):  # the next commit says so
                self.position, self.batch = self._load_lane(self.lane)
        self._versions.clear()
        self._pending.clear()
        self.refresh_parked()

    def _load_lane(self, lane: Lane) -> tuple[int, int]:
        conn = self.store.conn
        conn.execute("BEGIN")
        try:
            loaded = lane.load(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return loaded

    @contextlib.asynccontextmanager
    async def transaction(self, position: int) -> AsyncIterator[Tx]:
        """The store's transaction; a lane's first takes the store's turn (``Lane.begin``)."""
        if self.lane is None:
            async with self.store.transaction(position) as tx:
                yield tx
            return
        stack, tx = await lane_turn(self.store, self.lane, position, alone=self._alone)
        async with stack:
            yield tx

    def refresh_parked(self) -> None:
        conn = self.store.conn
        self._skipped.clear()
        self._skipped.update(self.skips.of(self.name))
        self._blocked.clear()
        self._blocked.update(ledger.open_parked_streams(conn))
        self.parked_count = ledger.parked_count(conn)

    def _version_of(self, stream: str) -> int:
        version = self._versions.get(stream)
        if version is None:
            version = self._versions[stream] = checkpoint.stream_version(self.store.conn, stream)
        return version

    # -- batches ----------------------------------------------------------------

    async def process(self, events: Sequence[StoredEvent], policy: FailurePolicy) -> None:
        """Apply one delivery; failures go through ``policy`` (``StoppedError`` on stop)."""
        if self.watch is not None:
            self.watch.note_masked(events)
        i = 0
        while i < len(events):
            failed = await self._commit_run(events[i:])
            if failed is None:
                return
            i += failed[0]
            await self._retry_or_park(events[i], failed[1], policy)
            i += 1

    async def _commit_run(self, events: Sequence[StoredEvent]) -> tuple[int, BaseException] | None:
        """Commit all of ``events`` in one batch, or the prefix before the first failure."""
        work = BatchWork(pending=merged(self._pending))
        index = 0
        try:
            async with self.transaction(events[0].position) as tx:
                for event in events:
                    await self._applier.apply(tx, event, work)
                    index += 1
                index = len(events) - 1  # a failure past here is pinned on the last event
                await self._applier.fill_gaps(tx, work)
                self._bookkeep(work)
        except Exception as e:
            if is_store_failure(e):
                raise
            if index == 0:
                return 0, e
            retried = await self._commit_run(events[:index])
            return retried if retried is not None else (index, e)
        self._committed(work)
        return None

    def _bookkeep(self, work: BatchWork) -> None:
        conn = self.store.conn
        checkpoint.save_versions(conn, work.versions)
        position = max(self.position, work.last, work.advance_to)
        if work.pending:
            lowest = min(e.position for w in work.pending.values() for e in w.values())
            position = max(self.position, min(position, lowest - 1))
        lane = self.lane
        batch = self.batch + 1 if lane is None else lane.next_batch(conn)
        ledger.record_batch(conn, batch, work.runs(), work.exceptions)
        if lane is None:
            checkpoint.save_checkpoint(conn, self.name, position, batch)
        else:
            lane.save(conn, self.name, position, batch)
        work.checkpoint, work.batch = position, batch

    def _committed(self, work: BatchWork) -> None:
        self.batch = work.batch
        self.position = work.checkpoint
        self._versions.update({s: v for s, (v, _) in work.versions.items()})
        self._pending = work.pending
        self._blocked.update(work.blocked)
        self.parked_count += work.parked
        self.duplicates += work.duplicates
        self._on_commit(work)

    async def _retry_or_park(
        self, event: StoredEvent, error: BaseException, policy: FailurePolicy
    ) -> None:
        for attempt in range(2, policy.attempts + 1):
            await asyncio.sleep(policy.delay(attempt - 1))
            failed = await self._commit_run([event])
            if failed is None:
                return
            error = failed[1]
        await self._park(event, error, policy)

    async def _park(self, event: StoredEvent, error: BaseException, policy: FailurePolicy) -> None:
        work = BatchWork(pending=merged(self._pending))
        stop = policy.on_exhausted == "stop"
        async with self.transaction(event.position) as tx:
            ident = self._applier.park_failed(tx, event, work, error, policy.attempts)
            if not stop:
                work.covered.append(event.position)
            self._bookkeep(work)
        self._committed(work)
        log.error("%s parked position %s (#%s): %s", self.name, event.position, ident, error)
        if stop:
            raise StoppedError(f"stopped at position {event.position}: parked #{ident}: {error}")

    # -- operators' actions -------------------------------------------------------

    async def resolve(
        self, parked: ParkedEvent, event: StoredEvent, skip: tuple[str, str] | None
    ) -> None:
        """Apply a parked event again (``skip`` None), or pass over it for good: who, why."""
        work = BatchWork(pending=merged(self._pending))
        last = self._applier.last_version(work, event.stream)
        if event.version != last + 1:
            raise InputError(
                f"Parked {parked.ref} is version {event.version} of {event.stream}, but "
                f"{self.name} is at version {last} of it: resolve the earlier one first"
            )
        detail, reason = f"applied on retry of parked {parked.ref}", None
        if skip is not None:
            why, by = skip
            record = self.skips.record(self.name, event.position, str(event.event_id), by, why)
            detail, reason = record.detail, f"{why} (by {by})"
        try:
            async with self.transaction(event.position) as tx:
                if skip is None:
                    await self._applier.run_handler(tx, event, work)
                    work.applied += 1
                outcome = Outcome.APPLIED if skip is None else Outcome.SKIPPED
                work.exceptions.append((event.position, outcome, detail))
                work.versions[event.stream] = (event.version, event.position)
                status = "retried" if skip is None else "skipped"
                ledger.resolve_parked(tx.conn, parked.id, status, reason)
                work.advance_to = event.position
                self._bookkeep(work)
        except Exception as e:
            if is_store_failure(e):
                raise
            await self._record_failure(event, e)
            raise HandlerError(
                self.name, event.position, f"retry of {parked.ref} failed: {e}"
            ) from e
        self._committed(work)
        self.refresh_parked()

    async def _record_failure(self, event: StoredEvent, error: Exception) -> None:
        work = BatchWork(pending=merged(self._pending))
        async with self.transaction(event.position) as tx:
            self._applier.park_failed(tx, event, work, error, 1)
        self.refresh_parked()

    async def mark_idle(self, position: int) -> bool:
        """A lane with nothing left to apply up to ``position`` (the relay's checkpoint)
        moves there, so the projection's checkpoint is not held back by it."""
        lane = self.lane
        waiting = [e.position for w in self._pending.values() for e in w.values()]
        position = min(position, min(waiting, default=position + 1) - 1)  # behind a gap
        if lane is None or position <= self.position:
            return False
        async with self.transaction(position) as tx:
            lane.save(tx.conn, self.name, position, lane.next_batch(tx.conn) - 1)
        self.position = position
        return True

    async def rewind(self, position: int) -> None:
        """Move back to just before ``position``: the checkpoint, and each stream touched
        since to its version before that point, so the events from there are applied
        again (not skipped as duplicates); parked events from there are replayed."""
        if self.lane is not None:
            raise InputError(
                f"{self.name} runs in lanes (projectors sharing its partitions): a replay"
                " rewinds every lane, so stop them and run `kiroku replay` instead"
            )
        rewound: dict[str, int] = {}
        for stream in checkpoint.streams_since(self.store.conn, position):
            events = await self.journal.read_stream(stream)
            later = [e.version for e in events if e.position >= position]
            earlier = [e.version for e in events if e.position < position]
            rewound[stream] = min(later) - 1 if later else max(earlier, default=0)
        async with self.transaction(position) as tx:
            checkpoint.rewind_streams(tx.conn, rewound, position)
            ledger.mark_replayed(tx.conn, position, f"replay from {position}")
            checkpoint.save_checkpoint(tx.conn, self.name, position - 1, self.batch)
        self.reload()
