"""Replay, rebuild and point-in-time: the read model as a disposable derivative.

``replay``   one projection again from a position or a time; others untouched.
``rebuild``  a new generation from position 0 in a shadow file while the old one
             serves; once caught up, the live runner stops, the shadow takes the
             last few events, and the catalog swaps — readers never see a gap.
             A projection compensating retractions by rebuild
             (``on_retraction = "rebuild"``) is rebuilt, and replayed, from an
             ``UnretractedSource``: as if retracted events had never happened.
             The shadow has no rebuild hook: it only notes a retraction whose
             original it applied, and the host then rebuilds again.
``as_of``    a projection's read model as of a position or time, in a
             temporary file, for as long as the ``async with`` lasts.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from kiroku.corrections.compensation import Compensation
from kiroku.corrections.source import UnretractedSource
from kiroku.errors import InputError, ParkedEventError
from kiroku.journal.protocol import Journal
from kiroku.projections import operations
from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.lanes import carry_over
from kiroku.projections.model import BatchCommitted, FailurePolicy, Progress, RunnerState
from kiroku.projections.readstore import ReadView
from kiroku.projections.rebuild_needed import pending_rebuild
from kiroku.projections.runner import ProjectionRunner
from kiroku.projections.safety import check_replayable
from kiroku.projections.source import EventSource
from kiroku.projections.store import ProjectionStore
from kiroku.schema.codec import Codec

__all__ = [
    "Rebuildable",
    "as_of",
    "catch_up_source",
    "rebuild",
    "rebuild_clean",
    "replay",
    "resolve_start",
]

ProgressFn = Callable[[Progress], None]


class Rebuildable(Protocol):
    """What replay, rebuild and as-of need of whoever runs the projections (a host)."""

    journal: Journal
    codec: Codec
    stores: StoreCatalog
    batch_size: int

    def runner(self, name: str) -> ProjectionRunner: ...

    def policy(self, name: str) -> FailurePolicy: ...

    def install(self, name: str, runner: ProjectionRunner) -> None:
        """Serve ``name`` from ``runner`` from now on (a rebuild's swap)."""
        ...


_REPLAY_WAIT = 3600.0  # seconds a reported replay waits on a running runner before giving up


async def resolve_start(journal: Journal, start: int | datetime) -> int:
    """The first position to replay: a position as given, or the first event at/after a time."""
    head = await journal.head_position()
    if isinstance(start, datetime):
        if start.tzinfo is None:
            raise InputError(f"Replay time {start.isoformat()} needs a timezone")
        first = await journal.read_all(0, 1)
        if not first or start < first[0].occurred_at:
            when = first[0].occurred_at.isoformat() if first else "none: the journal is empty"
            raise InputError(
                f"Replay time {start.isoformat()} is before the first event (at {when})"
            )
        start = await journal.position_at(start - timedelta(microseconds=1)) + 1
    if start < 1 or start > head:
        raise InputError(f"Replay position {start} is outside the journal (1..{head})")
    return start


def catch_up_source(runner: ProjectionRunner) -> EventSource | None:
    """Where a replay or rebuild of ``runner`` reads: None for the journal as it is."""
    if runner.committer.compensation is Compensation.REBUILD:
        return UnretractedSource(runner.journal, runner.batch_size)
    return None


async def replay(
    host: Rebuildable, name: str, start: int | datetime, progress: ProgressFn | None = None
) -> int:
    """Rewind ``name`` to replay from ``start``; returns the first position replayed.

    Without ``progress`` the runner replays in its own time (in the background
    if it is running, else on its next run). With ``progress`` this returns only
    once the replay reached the journal's head as it was at the start, reporting
    along the way exactly as a rebuild does.
    """
    runner = host.runner(name)
    check_replayable(runner.projection)
    position = await resolve_start(host.journal, start)
    if progress is None:
        await operations.rewind(runner, position)
        return position
    # listening before the rewind: a running runner may replay a short span and
    # commit it while this task awaits anything, and its parked count with it
    meter = _Meter(name, await host.journal.head_position(), progress)
    runner.listeners.append(meter)
    try:
        await operations.rewind(runner, position)
        if runner.running:
            await runner.wait_for(meter.target, timeout=_REPLAY_WAIT)
        else:
            await runner.run(follow=False, source=catch_up_source(runner))
    finally:
        runner.listeners.remove(meter)
    if runner.state is RunnerState.FAILED:
        raise ParkedEventError(name, runner.position, runner.error or "failed")
    meter.tell(runner.position)
    return position


class _Meter:
    def __init__(self, name: str, target: int, report: ProgressFn | None) -> None:
        self.name, self.target, self.report = name, target, report
        self.started = time.monotonic()
        self.events = 0
        self.parked = 0

    def __call__(self, note: BatchCommitted) -> None:
        self.events += max(0, note.last_position - note.first_position + 1)
        self.parked += note.parked
        self.tell(note.last_position)

    def tell(self, position: int) -> None:
        if self.report is None:
            return
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.events / elapsed
        self.target = max(self.target, position)
        eta = (self.target - position) / rate if rate > 0 else None
        self.report(Progress(self.name, position, self.target, self.events, rate, eta, self.parked))


async def rebuild(
    host: Rebuildable, name: str, progress: ProgressFn | None = None
) -> ProjectionRunner:
    """Build generation N+1 from position 0 beside the serving one, then swap
    (one rebuild of a projection at a time, whichever process runs it)."""
    with host.stores.rebuilding(name):
        return await _rebuild(host, name, progress)


async def _rebuild(host: Rebuildable, name: str, progress: ProgressFn | None) -> ProjectionRunner:
    live = host.runner(name)
    generation = host.stores.generation(name) + 1
    host.stores.discard(name, generation)  # a shadow left by an interrupted rebuild
    shadow = ProjectionRunner(
        live.projection,
        host.journal,
        host.stores.open(name, generation),
        codec=host.codec,
        policy=live.policy,
        batch_size=host.batch_size,
        skips=live.skips,
    )
    meter = _Meter(name, await host.journal.head_position(), progress)
    shadow.listeners.append(meter)
    try:
        await _build(host, shadow, generation)
        was_running = live.keep_running
        await live.stop()
        try:
            # lanes in other processes wait from here until the swap, then follow it
            with host.stores.fence(name, generation - 1):
                meter.target = await host.journal.head_position()
                await _build(host, shadow, generation)
                if live.lane is not None:
                    carry_over(live.store.conn, shadow.store.conn, shadow.position)
                host.stores.swap(name, generation)
        except BaseException:
            if was_running:
                await live.start()
            raise
    except BaseException:
        shadow.store.close()  # abandoned or cancelled (a host closing): the old one serves
        raise
    shadow.listeners.remove(meter)
    meter.tell(shadow.position)
    shadow.listeners.extend(live.listeners)
    shadow.on_rebuild_needed = live.on_rebuild_needed  # serving now: it tells the host
    shadow.source = live.source  # follows what the live one followed (the journal or a bus)
    shadow.lane, shadow.on_moved = live.lane, live.on_moved
    host.install(name, shadow)
    live.store.close()
    if was_running:
        await shadow.start()
    return shadow


async def rebuild_clean(
    host: Rebuildable, name: str, progress: ProgressFn | None = None
) -> ProjectionRunner:
    """Rebuild until the new generation carries no note of a retraction it applied."""
    runner = await rebuild(host, name, progress)
    while pending_rebuild(runner.store.conn):
        runner = await rebuild(host, name, progress)
    return runner


async def _build(host: Rebuildable, shadow: ProjectionRunner, generation: int) -> None:
    """Catch the shadow up; if it stops on a parked event, drop it: the old one keeps serving."""
    await shadow.run(follow=False, source=catch_up_source(shadow))
    if shadow.state is RunnerState.FAILED:
        error = shadow.error or "failed"
        shadow.store.close()
        host.stores.discard(shadow.name, generation)
        raise ParkedEventError(shadow.name, shadow.position, f"rebuild abandoned: {error}")


@contextlib.asynccontextmanager
async def as_of(host: Rebuildable, name: str, at: int | datetime) -> AsyncIterator[ReadView]:
    """``name``'s read model as it was at position/time ``at``, in a temporary store."""
    projection = host.runner(name).projection
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise InputError(f"Point-in-time {at.isoformat()} needs a timezone")
        at = await host.journal.position_at(at)
    head = await host.journal.head_position()
    if at < 0 or at > head:
        raise InputError(f"Position {at} is outside the journal (0..{head})")
    with tempfile.TemporaryDirectory(prefix="kiroku-asof-") as tmp:
        store = ProjectionStore(Path(tmp) / f"{name}.db", name)
        runner = ProjectionRunner(
            projection,
            host.journal,
            store,
            codec=host.codec,
            policy=host.policy(name),
            batch_size=host.batch_size,
            skips=host.runner(name).skips,
        )
        try:
            await runner.open()
            if at:
                await runner.run(until=at, follow=False)
            if runner.state is RunnerState.FAILED:
                raise ParkedEventError(name, runner.position, runner.error or "failed")
            view = store.reader()
            try:
                yield view
            finally:
                view.close()
        finally:
            store.close()
