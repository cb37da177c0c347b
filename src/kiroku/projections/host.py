"""Several runners in one process, and the one place operators and Read APIs ask.

The host opens each projection's serving store, runs its runner (all of them
fed by one shared journal read, ``feed``), answers status,
read-your-writes, the ledger and parked-event actions, and tells listeners after
each committed batch (a server pushes server-sent events from there). Reads go
through ``reader(name)``, which always follows the serving generation.

Rebuilds that retractions call for are driven by the journal: a runner notes
one in its store with its checkpoint and calls ``on_rebuild_needed(name)``
after the commit, and once more whenever it opens a store with a note left
(after a crash, or written by another process). By default the host runs them
itself (``RebuildScheduler``); a server may pass its own hook, e.g. to show the
rebuild among its operations tasks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from pathlib import Path

from kiroku.corrections.compensation import Compensation
from kiroku.corrections.service import RetractionReport
from kiroku.domain.envelope import StoredEvent
from kiroku.errors import InputError, ProjectionNotFoundError
from kiroku.journal.protocol import Journal
from kiroku.projections import operations, rebuild
from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.damage import DamagedStore
from kiroku.projections.feed import FeedSource, SharedFeed
from kiroku.projections.generations import open_catalog
from kiroku.projections.model import (
    BatchCommitted,
    FailurePolicy,
    LedgerEntry,
    ParkedEvent,
    Progress,
    RunnerStatus,
)
from kiroku.projections.projection import Projection
from kiroku.projections.readiness import unready
from kiroku.projections.readstore import ReadView
from kiroku.projections.rebuild_needed import pending_rebuild
from kiroku.projections.runner import Listener, ProjectionRunner
from kiroku.projections.safety import check_replayable
from kiroku.projections.scheduler import RebuildScheduler
from kiroku.projections.serving import Serving
from kiroku.projections.skips import Skip
from kiroku.schema.codec import Codec

__all__ = ["ProjectionHost"]


class ProjectionHost:
    def __init__(
        self,
        journal: Journal,
        projections: Sequence[Projection],
        data_dir: Path | str,
        *,
        codec: Codec | None = None,
        policies: Mapping[str, FailurePolicy] | None = None,
        default_policy: FailurePolicy | None = None,
        batch_size: int = 1000,
        on_rebuild_needed: Callable[[str], None] | None = None,
        catalog: StoreCatalog | None = None,
    ) -> None:
        names = [p.name for p in projections]
        if len(set(names)) != len(names):
            raise InputError(f"Projection names must be unique, got {names}")
        self.journal = journal
        self.codec = codec or Codec()
        self.damaged: dict[str, DamagedStore] = {}  # stores moved aside, by projection
        self._rebuild_targets: dict[str, int] = {}
        self.stores = catalog or open_catalog(Path(data_dir), self.damaged)
        self.skips = self.stores.skip_book()  # every generation's
        self.batch_size = batch_size
        self.feed = SharedFeed(journal, batch_size)  # one journal read for every runner
        self.projections = {p.name: p for p in projections}
        self._policies = dict(policies or {})
        self._default_policy = default_policy or FailurePolicy()
        self._serving = Serving(self.runner)
        self.runners = self._serving.runners  # the serving runner of each projection
        self.listeners: list[Listener] = []
        self.on_rebuild_needed = on_rebuild_needed
        self.rebuilds = RebuildScheduler(self)
        self._rebuilding = {name: asyncio.Lock() for name in names}
        for name in names:
            self.runners[name] = self.make_runner(name, self.stores.generation(name))

    def policy(self, name: str) -> FailurePolicy:
        return self._policies.get(name, self._default_policy)

    def make_runner(self, name: str, generation: int) -> ProjectionRunner:
        store = self.stores.open(name, generation)
        runner = ProjectionRunner(
            self.projections[name],
            self.journal,
            store,
            codec=self.codec,
            policy=self.policy(name),
            batch_size=self.batch_size,
            source=FeedSource(self.feed, self.batch_size),
            on_rebuild_needed=self._rebuild_needed,
            skips=self.skips,
        )
        runner.listeners.append(self._tell)
        return runner

    def _rebuild_needed(self, name: str) -> None:
        """Every runner's hook; reads ``on_rebuild_needed`` late so a server may set it."""
        (self.on_rebuild_needed or self.rebuilds)(name)

    def _tell(self, note: BatchCommitted) -> Awaitable[None] | None:
        """Fan a runner's batch out to the host's listeners (a runner isolates failures)."""
        awaiting = [r for r in (listener(note) for listener in list(self.listeners)) if r]
        return _all(awaiting) if awaiting else None

    # -- lifecycle ------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        return sorted(self.projections)

    def runner(self, name: str) -> ProjectionRunner:
        try:
            return self.runners[name]
        except KeyError:
            raise ProjectionNotFoundError(name, self.names) from None

    async def start(self) -> None:
        for runner in self.runners.values():
            await runner.start()

    async def stop(self) -> None:
        for runner in self.runners.values():
            await runner.stop()

    async def __aenter__(self) -> ProjectionHost:
        """``async with ProjectionHost(...) as host:`` starts the runners; closes on exit."""
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.rebuilds.close()
        await self.stop()
        await self.feed.close()
        self._serving.close()
        self.skips.close()
        self.stores.close()

    async def catch_up(self, names: Sequence[str] | None = None) -> None:
        """Process everything up to the journal's head, without following it."""
        for name in names or self.names:
            await self.runner(name).run(follow=False)

    # -- reads ------------------------------------------------------------------

    def reader(self, name: str) -> ReadView:
        """The serving read model of ``name``; follows swaps made by rebuilds."""
        return self._serving.reader(name)

    async def wait_for(
        self,
        position: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - read-your-writes is specified with a timeout
        names: Sequence[str] | None = None,
    ) -> None:
        """Read-your-writes: return once the projections have processed ``position``.

        A rebuild may swap a projection's runner while we wait; the old one stops
        short of ``position``, so the wait moves on to its successor.
        """
        await self._serving.wait_for(names or self.names, position, timeout)

    def install(self, name: str, runner: ProjectionRunner) -> None:
        """Serve ``name`` from ``runner`` (a rebuild's swap), and wake ``wait_for``."""
        self._serving.install(name, runner)

    async def unready(self) -> dict[str, str]:
        """Why this host cannot serve truthfully now, by store; empty when ready."""
        return await unready(
            self.stores,
            self.runners,
            self.damaged,
            self._rebuild_targets,
            self.journal,
        )

    async def status(self) -> list[RunnerStatus]:
        return [await self.runners[n].status() for n in self.names]

    def check_replay(self, name: str) -> None:
        """``ReplayRefusedError`` unless ``name`` may be replayed in place (ask first)."""
        check_replayable(self.runner(name).projection)

    async def replay(
        self,
        name: str,
        start: int | datetime,
        progress: Callable[[Progress], None] | None = None,
    ) -> int:
        """Replay ``name`` alone from a position or time; returns the first position
        (with ``progress``: once caught up, reporting like ``rebuild``)."""
        async with self._rebuilding[self.runner(name).name]:  # a rebuild waits for it
            return await rebuild.replay(self, name, start, progress)

    async def rebuild(
        self, name: str, progress: Callable[[Progress], None] | None = None
    ) -> ProjectionRunner:
        """Build ``name`` afresh beside the serving store and swap with no downtime.

        One rebuild of a projection at a time. A retraction whose original the
        new generation applied anyway (appended after its source read past the
        original) leaves a note in it: then it is built once more, so this
        returns a generation that excludes every retraction it met.
        """
        async with self._rebuilding[self.runner(name).name]:
            return await rebuild.rebuild_clean(self, name, progress)

    async def rebuild_if_pending(
        self, name: str, progress: Callable[[Progress], None] | None = None
    ) -> bool:
        """Rebuild ``name`` if a retraction noted in its store calls for it (checked
        under the rebuild lock, so a rebuild just finished is not repeated)."""
        async with self._rebuilding[self.runner(name).name]:
            if not self.rebuild_pending(name):
                return False
            await rebuild.rebuild_clean(self, name, progress)
            return True

    def rebuild_pending(self, name: str) -> bool:
        """True when ``name``'s serving store notes a retraction not yet rebuilt for."""
        return bool(pending_rebuild(self.runner(name).store.conn))

    async def on_retraction(self, report: RetractionReport) -> None:
        """A ``RetractionService`` listener that waits for the rebuilds the retraction
        calls for. Not needed for them to happen: runners meet the retraction in the
        journal and note the rebuild durably. This catches up those projections
        (a running runner is awaited instead) and waits for the host's own rebuilds.
        """
        for name in self.rebuilt_on_retraction(report.original.type):
            runner = self.runner(name)
            if runner.running:
                await runner.wait_for(report.retraction.position)
            else:
                await runner.run(follow=False)
        await self.rebuilds.join()

    def rebuilt_on_retraction(self, type_name: str) -> list[str]:
        """The projections that compensate by rebuild and take ``type_name``."""
        return [
            name
            for name in self.names
            if self.runners[name].committer.compensation is Compensation.REBUILD
            and type_name in self.runners[name].committer.subscribed
        ]

    def as_of(self, name: str, at: int | datetime) -> AbstractAsyncContextManager[ReadView]:
        """``async with host.as_of(name, position_or_time) as view:`` — a past read model."""
        return rebuild.as_of(self, name, at)

    # -- parked events and the ledger ---------------------------------------------

    def parked(
        self, name: str | None = None, *, include_resolved: bool = False
    ) -> list[ParkedEvent]:
        names = [name] if name is not None else self.names
        return [
            p
            for n in names
            for p in operations.list_parked(self.runner(n), include_resolved=include_resolved)
        ]

    async def retry(self, name: str, ident: int) -> None:
        await operations.retry_parked(self.runner(name), ident)

    async def skip(self, name: str, ident: int, reason: str, *, by: str = "an operator") -> None:
        """Give up on a parked event, durably: every later pass of ``name`` (live,
        replay, rebuild, a retraction's rebuild) passes over it on the record."""
        await operations.skip_parked(self.runner(name), ident, reason, by=by)

    def skipped(self, name: str) -> list[Skip]:
        """The operators' skips of ``name``, oldest position first."""
        return list(self.skips.of(self.runner(name).name).values())

    async def find(self, ref: int | uuid.UUID) -> StoredEvent:
        if isinstance(ref, uuid.UUID):
            return await self.journal.find_event(ref)
        return await self.journal.get_event(ref)

    async def ledger(self, ref: int | uuid.UUID) -> tuple[StoredEvent, list[LedgerEntry]]:
        """For one event: what every consumer did with it, exactly."""
        event = await self.find(ref)
        return event, [operations.ledger_entry(self.runners[n], event) for n in self.names]


async def _all(awaiting: list[Awaitable[None]]) -> None:
    await asyncio.gather(*awaiting)
