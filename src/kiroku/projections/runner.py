"""The projection runner (read-model updater): one per projection.

It follows an ``EventSource`` (the journal by default: woken by appends, never
polling) and applies each batch in one read-store transaction together with the
checkpoint, the per-stream versions and the ledger. The fast path runs a whole
batch without savepoints; when a handler fails, the batch is rolled back, the
good prefix is committed again, and only the failing event goes through
retry-with-backoff and, if it keeps failing, parking.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

from kiroku.domain.envelope import StoredEvent, utc_now
from kiroku.errors import ParkedEventError, ReadStoreError, WaitTimeoutError
from kiroku.journal.protocol import Journal
from kiroku.projections import bookkeeping as bk
from kiroku.projections.apply import Applier, BatchWork, merged
from kiroku.projections.model import (
    BatchCommitted,
    FailurePolicy,
    RunnerState,
    RunnerStatus,
)
from kiroku.projections.projection import Projection
from kiroku.projections.rebuild_needed import pending_rebuild
from kiroku.projections.source import (
    Acknowledging,
    CatchUpSource,
    EventSource,
    JournalSource,
    Prefetch,
)
from kiroku.projections.store import ProjectionStore, is_store_failure
from kiroku.schema.codec import Codec

__all__ = ["Listener", "ProjectionRunner"]

log = logging.getLogger("kiroku.projections")
Listener = Callable[[BatchCommitted], Awaitable[None] | None]


class _Stopped(Exception):
    """Policy ``stop`` parked an event: the run ends at that position."""


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        journal: Journal,
        store: ProjectionStore,
        *,
        codec: Codec | None = None,
        policy: FailurePolicy | None = None,
        source: EventSource | None = None,
        batch_size: int = 1000,
        on_rebuild_needed: Callable[[str], None] | None = None,
    ) -> None:
        self.projection = projection
        self.name = projection.name
        self.journal = journal
        self.store = store
        self.codec = codec or Codec()
        self.policy = policy or FailurePolicy()
        self.batch_size = batch_size
        self.source = source or JournalSource(journal, batch_size)
        self.listeners: list[Listener] = []
        self.on_rebuild_needed = on_rebuild_needed  # None for shadows: their host decides
        self.lock = asyncio.Lock()
        self.state = RunnerState.STOPPED
        self.error: str | None = None
        self.duplicates = 0
        self._versions: dict[str, int] = {}
        self._blocked: set[str] = set()
        self._pending: dict[str, dict[int, StoredEvent]] = {}
        self._applier = Applier(projection, self.codec, self._version_of, self._blocked, journal)
        self._rates: deque[tuple[float, int]] = deque(maxlen=64)
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self.position, self.batch = 0, 0
        self.parked_count = 0
        self._data_version = 0
        self.keep_running = False

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Create the projection's tables and indexes, and load the checkpoint."""
        if self._opened:
            return
        self.store.ensure_indexes(self.projection.indexes)
        async with self.store.transaction() as tx:
            await self.projection.setup(tx)
        self.reload()
        self._opened = True

    def reload(self) -> None:
        """Re-read what memory caches from the store (after another process changed it)."""
        conn = self.store.conn
        self.position, self.batch = bk.load_checkpoint(conn)
        self._versions.clear()
        self._blocked.clear()
        self._blocked.update(bk.open_parked_streams(conn))
        self.parked_count = bk.parked_count(conn)
        self._pending.clear()
        self._data_version = self.store.data_version()
        if self._applier.watch is not None:
            self._applier.watch.restart(fresh=not self._opened and self.batch == 0)
            if pending_rebuild(conn):  # noted before a crash, or by another process
                self._rebuild_needed()

    def refresh_parked(self) -> None:
        conn = self.store.conn
        self._blocked.clear()
        self._blocked.update(bk.open_parked_streams(conn))
        self.parked_count = bk.parked_count(conn)
        if self.state is RunnerState.FAILED and not self.parked_count:
            self.state, self.error = RunnerState.STOPPED, None
        self._data_version = self.store.data_version()

    def _version_of(self, stream: str) -> int:
        version = self._versions.get(stream)
        if version is None:
            version = self._versions[stream] = bk.stream_version(self.store.conn, stream)
        return version

    async def start(self) -> None:
        """Run in the background, following the source until ``stop``."""
        await self.open()
        self.keep_running = True
        if self._task is None or self._task.done():
            self.state, self.error = RunnerState.CATCHING_UP, None
            self._task = asyncio.create_task(self.run(), name=f"projection {self.name}")

    async def stop(self) -> None:
        self.keep_running = False
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.state = RunnerState.STOPPED if self.state is not RunnerState.FAILED else self.state

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run(
        self,
        *,
        until: int | None = None,
        follow: bool = True,
        source: EventSource | None = None,
    ) -> None:
        """Process events in this task; returns at ``until``, at the source's end, or on stop.

        ``follow=False`` reads up to the journal's head and returns (catch-up),
        from ``source`` when given (a finite one, e.g. ``UnretractedSource`` for
        a rebuild that excludes retracted events), else from the journal.
        """
        await self.open()
        self.state, self.error = RunnerState.CATCHING_UP, None
        if follow:
            await self._note_caught_up()
        if source is None and not follow:
            source = CatchUpSource(self.journal, self.batch_size, until)
        try:
            while await self._run_once(until, source or self.source):
                self.reload()
        except _Stopped:
            self.state = RunnerState.FAILED
            return
        except ReadStoreError as e:
            self.state, self.error = RunnerState.FAILED, str(e)
            log.error("%s", e)
            raise
        finally:
            self._wake()
        if self.state is not RunnerState.FAILED:
            self.state = RunnerState.STOPPED

    async def _run_once(self, until: int | None, source: EventSource) -> bool:
        """One pass over ``source``; True when another process changed the store."""
        stream = Prefetch(source.batches(self.position))
        try:
            while (batch := await stream.next()) is not None:
                if self.store.data_version() != self._data_version:
                    return True
                events = [e for e in batch if until is None or e.position <= until]
                if events:
                    await self.process(events)
                if isinstance(source, Acknowledging):
                    await source.settled(batch)  # committed: a bus may ack it now
                await asyncio.sleep(0)  # a long catch-up must not starve readers on this loop
                if until is not None and self.position >= until:
                    return False
                self.state = RunnerState.RUNNING
        finally:
            await stream.close()
        return False

    # -- processing -----------------------------------------------------------

    async def process(self, events: Sequence[StoredEvent]) -> None:
        """Apply ``events`` (one delivery); failures go through the failure policy."""
        async with self.lock:
            if self._applier.watch is not None:
                self._applier.watch.received(events)
            i = 0
            while i < len(events):
                failed = await self._commit_run(events[i:])
                if failed is None:
                    return
                i += failed[0]
                await self._retry_or_park(events[i], failed[1])
                i += 1

    async def _commit_run(self, events: Sequence[StoredEvent]) -> tuple[int, BaseException] | None:
        """Commit all of ``events`` in one batch, or the prefix before the first failure."""
        work = BatchWork(pending=merged(self._pending))
        index = 0
        try:
            async with self.store.transaction(events[0].position) as tx:
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
        bk.save_versions(conn, work.versions)
        position = max(self.position, work.last, work.advance_to)
        if work.pending:
            lowest = min(e.position for w in work.pending.values() for e in w.values())
            position = max(self.position, min(position, lowest - 1))
        bk.record_batch(conn, self.batch + 1, work.runs(), work.exceptions)
        bk.save_checkpoint(conn, self.name, position, self.batch + 1)
        work.checkpoint = position

    def _committed(self, work: BatchWork) -> None:
        self.batch += 1
        self.position = work.checkpoint
        self._versions.update({s: v for s, (v, _) in work.versions.items()})
        self._pending = work.pending
        self._blocked.update(work.blocked)
        self.parked_count += work.parked
        self.duplicates += work.duplicates
        self._rates.append((time.monotonic(), len(work.covered)))
        self._wake()
        note = BatchCommitted(
            self.name,
            self.batch,
            work.first,
            work.checkpoint,
            work.applied,
            tuple(sorted(work.versions)),
        )
        for listener in list(self.listeners):
            self._tell(listener, note)
        if work.retractions:
            self._rebuild_needed()

    def _rebuild_needed(self) -> None:
        """Tell the host, after the note is committed, that a retraction calls for a rebuild."""
        try:
            if self.on_rebuild_needed is not None:
                self.on_rebuild_needed(self.name)
        except Exception:
            log.exception("the rebuild hook of %s failed; the rebuild stays pending", self.name)

    def _tell(self, listener: Listener, note: BatchCommitted) -> None:
        try:
            result = listener(note)
            if result is not None:
                task = asyncio.ensure_future(result)
                task.add_done_callback(_log_listener_failure)
        except Exception:
            log.exception("listener of %s failed on batch %s", self.name, note.batch)

    def _wake(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    async def _retry_or_park(self, event: StoredEvent, error: BaseException) -> None:
        for attempt in range(2, self.policy.attempts + 1):
            await asyncio.sleep(self.policy.delay(attempt - 1))
            failed = await self._commit_run([event])
            if failed is None:
                return
            error = failed[1]
        await self._park(event, error)

    async def _park(self, event: StoredEvent, error: BaseException) -> None:
        work = BatchWork(pending=merged(self._pending))
        stop = self.policy.on_exhausted == "stop"
        async with self.store.transaction(event.position) as tx:
            ident = self._applier.park_failed(tx, event, work, error, self.policy.attempts)
            if not stop:
                work.covered.append(event.position)
            self._bookkeep(work)
        self._committed(work)
        log.error("%s parked position %s (#%s): %s", self.name, event.position, ident, error)
        if stop:
            self.error = f"stopped at position {event.position}: parked #{ident}: {error}"
            raise _Stopped()

    # -- read-your-writes and status --------------------------------------------

    async def wait_for(self, position: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the read-your-writes API takes a plain timeout
        """Return once every event up to ``position`` has been processed."""
        try:
            async with asyncio.timeout(timeout):
                while self.position < position:
                    if self.state is RunnerState.FAILED:
                        raise ParkedEventError(self.name, self.position, self.error or "failed")
                    await self._advanced.wait()
        except TimeoutError as e:
            raise WaitTimeoutError(
                self.name, self.position, f"did not reach position {position} in {timeout}s"
            ) from e

    async def _note_caught_up(self, head: int | None = None) -> None:
        """A following runner at the head is running, not catching up.

        Batches mark the state as they commit; a runner that starts (or restarts
        after a rebuild or a replay) with nothing left to read gets no batch
        until the next append, so it is also checked here and in ``status``.
        """
        if self.state is not RunnerState.CATCHING_UP:
            return
        if head is None:
            head = await self.journal.head_position()
        if self.position >= head:
            self.state = RunnerState.RUNNING

    async def status(self) -> RunnerStatus:
        # The store first, before any await: a rebuild may swap this runner out
        # and close its store while we wait on the journal.
        rebuild_pending = bool(pending_rebuild(self.store.conn))
        head = await self.journal.head_position()
        if self.running:
            await self._note_caught_up(head)
        lag_seconds = 0.0
        if head > self.position:
            ahead = await self.journal.read_all(self.position, 1)
            if ahead:
                lag_seconds = max(0.0, (utc_now() - ahead[0].occurred_at).total_seconds())
        state = self.state
        if state is RunnerState.RUNNING and head - self.position > self.batch_size:
            state = RunnerState.CATCHING_UP
        return RunnerStatus(
            name=self.name,
            state=state,
            position=self.position,
            head=head,
            lag_events=max(0, head - self.position),
            lag_seconds=lag_seconds,
            events_per_second=self._rate(),
            parked=self.parked_count,
            duplicates=self.duplicates,
            error=self.error,
            rebuild_pending=rebuild_pending,
        )

    def _rate(self) -> float:
        now = time.monotonic()
        recent = [(t, n) for t, n in self._rates if now - t <= 10.0]
        if len(recent) < 2:
            return 0.0
        span = now - recent[0][0]
        return sum(n for _, n in recent[1:]) / span if span > 0 else 0.0


def _log_listener_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a batch listener failed", exc_info=task.exception())
