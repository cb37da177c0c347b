"""The projection runner (read-model updater): one per projection.

It follows an ``EventSource`` (the journal by default: woken by appends, never
polling) and hands each delivery to its ``Committer``, which applies it in one
read-store transaction together with the checkpoint, the stream versions and
the ledger. The runner owns the lifecycle (start, stop, retry after a storage
error), tells listeners after each commit, and answers ``wait_for`` and
``status``; the commit path is in ``committer``, retrying storage errors in
``follow``, notification in ``notify``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import cast

from kiroku.domain.closing import cancelled
from kiroku.domain.envelope import StoredEvent
from kiroku.errors import ParkedEventError, ReadStoreError, WaitTimeoutError
from kiroku.journal.protocol import Journal
from kiroku.projections.committer import Committer, StoppedError
from kiroku.projections.delivered import processed
from kiroku.projections.follow import follow
from kiroku.projections.lanes import Lane
from kiroku.projections.model import BatchCommitted, FailurePolicy, RunnerState, RunnerStatus
from kiroku.projections.notify import Listener, Rate, notify
from kiroku.projections.projection import Projection
from kiroku.projections.readstore import ReadStore
from kiroku.projections.rebuild_needed import pending_rebuild
from kiroku.projections.skips import SkipBook
from kiroku.projections.source import (
    Acknowledging,
    CatchUpSource,
    EventSource,
    JournalSource,
    Prefetch,
)
from kiroku.projections.status import runner_status
from kiroku.projections.work import BatchWork
from kiroku.schema.codec import Codec

__all__ = ["Listener", "ProjectionRunner"]

log = logging.getLogger("kiroku.projections")


class ProjectionRunner:
    def __init__(
        self,
        projection: Projection,
        journal: Journal,
        store: ReadStore,
        *,
        codec: Codec | None = None,
        policy: FailurePolicy | None = None,
        source: EventSource | None = None,
        batch_size: int = 1000,
        on_rebuild_needed: Callable[[str], None] | None = None,
        skips: SkipBook | None = None,
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
        self.cursor = 0  # the last event taken; 0: none since start (the checkpoint stands in)
        self.on_rebuild_needed = on_rebuild_needed  # None for shadows: their host decides
        self.lock = asyncio.Lock()
        self.state = RunnerState.STOPPED
        self.error: str | None = None
        self.skips = skips or SkipBook(store.conn)  # without a host: in its own store
        self.committer = Committer(
            projection, journal, store, self.codec, self.skips, self._committed
        )
        self.rate = Rate()  # events per second, for the status
        self._advanced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._opened = False
        self._data_version = 0
        self.keep_running = False
        self.storage_failures = 0  # storage errors met while following (each retried)
        # a lane's successor after another process's rebuild swapped the generation
        self.on_moved: Callable[[], Awaitable[None]] | None = None

    @property
    def position(self) -> int:
        return self.committer.position

    @property
    def lane(self) -> Lane | None:
        """Set when this runner is one of several processes sharing the partitions."""
        return self.committer.lane

    @lane.setter
    def lane(self, lane: Lane | None) -> None:
        self.committer.lane = lane
        if self._opened:  # where this lane stands, not the whole projection
            self.reload()

    @property
    def batch(self) -> int:
        return self.committer.batch

    @property
    def parked_count(self) -> int:
        return self.committer.parked_count

    @property
    def duplicates(self) -> int:
        return self.committer.duplicates

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Create the projection's tables and indexes, and load the checkpoint."""
        if self._opened:
            return
        self.store.ensure_indexes(self.projection.indexes)
        async with self.store.transaction(immediate=False) as tx:  # no lock if nothing new
            await self.projection.setup(tx)
        self.reload()
        self._opened = True

    def reload(self) -> None:
        """Re-read what memory caches from the store (after another process changed it)."""
        self.committer.reload()
        self._data_version = self.store.data_version()
        watch = self.committer.watch
        if watch is not None:
            watch.restart(fresh=not self._opened and self.batch == 0)
            if pending_rebuild(self.store.conn):  # noted before a crash, or by another process
                self._rebuild_needed()

    def follow_checkpoint(self, position: int, batch: int) -> None:
        """Move to the checkpoint another process's batch note carried (a reading
        process): no query, where ``reload`` re-reads every cache a writer needs."""
        committer = self.committer
        committer.position = max(committer.position, position)
        committer.batch = max(committer.batch, batch)
        self._wake()

    def refresh_parked(self) -> None:
        self.committer.refresh_parked()
        if self.state is RunnerState.FAILED and not self.parked_count:
            self.state, self.error = RunnerState.STOPPED, None
        self._data_version = self.store.data_version()

    async def start(self) -> None:
        """Run in the background, following the source until ``stop``."""
        await self.open()
        self.keep_running = True
        if self._task is None or self._task.done():
            self.state, self.error = RunnerState.CATCHING_UP, None
            self._task = asyncio.create_task(follow(self), name=f"projection {self.name}")

    async def stop(self) -> None:
        self.keep_running = False
        task, self._task = self._task, None
        await cancelled(task)
        self.state = RunnerState.STOPPED if self.state is not RunnerState.FAILED else self.state

    async def __aenter__(self) -> ProjectionRunner:
        """``async with runner:`` follows the source in the block; the store stays open."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

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
            await self.note_caught_up()
        if source is None and not follow:
            source = CatchUpSource(self.journal, self.batch_size, until)
        try:
            while await self._run_once(until, source or self.source):
                self.reload()
        except StoppedError as e:
            self.state, self.error = RunnerState.FAILED, str(e)
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
        acknowledging = isinstance(source, Acknowledging)  # once: a protocol check is slow
        try:
            while (batch := await stream.next()) is not None:
                if self.lane is None and self.store.data_version() != self._data_version:
                    return True  # (lanes change the store all the time: each has its own)
                events = [e for e in batch if until is None or e.position <= until]
                if events:
                    await self.process(events)
                if acknowledging:
                    await cast(Acknowledging, source).settled(batch)  # a bus may ack it now
                await asyncio.sleep(0)  # a long catch-up must not starve readers on this loop
                if until is not None and self.position >= until:
                    return False
                self.state = RunnerState.RUNNING
        finally:
            await stream.close()
        return False

    async def process(self, events: Sequence[StoredEvent]) -> None:
        """Apply ``events`` (one delivery); failures go through the failure policy."""
        async with self.lock:
            await self.committer.process(events, self.policy)

    async def mark_idle(self, position: int) -> None:
        """A lane found nothing left to do up to the relay's ``position``: move there."""
        async with self.lock:
            if await self.committer.mark_idle(position):
                self._wake()
                notify(
                    self.listeners, BatchCommitted(self.name, self.batch, 0, self.position, 0, ())
                )

    def _committed(self, work: BatchWork) -> None:
        """After every commit (the committer's hook): wake waiters, tell listeners."""
        self.rate.add(len(work.covered))
        if work.covered:
            self.cursor = work.covered[-1]  # the last taken, in delivery order (wait_for)
        self._wake()
        notify(self.listeners, work.note(self.name))
        if work.retractions:
            self._rebuild_needed()

    def _rebuild_needed(self) -> None:
        """Tell the host, after the note is committed, that a retraction calls for a rebuild."""
        try:
            if self.on_rebuild_needed is not None:
                self.on_rebuild_needed(self.name)
        except Exception:
            log.exception("the rebuild hook of %s failed; the rebuild stays pending", self.name)

    def _wake(self) -> None:
        self._advanced.set()
        self._advanced = asyncio.Event()

    # -- read-your-writes and status --------------------------------------------

    async def wait_for(self, position: int, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - the read-your-writes API takes a plain timeout
        """Return once every event up to ``position`` has been processed."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    advanced = self._advanced  # before the check: a commit during it wakes us
                    if await processed(self.journal, self.cursor, self.position, position):
                        return
                    if self.state is RunnerState.FAILED:
                        raise ParkedEventError(self.name, self.position, self.error or "failed")
                    await advanced.wait()
        except TimeoutError as e:
            raise WaitTimeoutError(
                self.name, self.position, f"did not reach position {position} in {timeout}s"
            ) from e

    async def note_caught_up(self, head: int | None = None) -> None:
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
        return await runner_status(self)
