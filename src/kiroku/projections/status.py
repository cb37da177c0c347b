"""A runner's status as the operations page and ``kiroku projections`` show it.

Kept apart from the runner: it only reads what the runner exposes, plus the
journal's head and the age of the first event not yet processed.
"""

from __future__ import annotations

from typing import Protocol

from kiroku.journal.protocol import Journal
from kiroku.projections.model import RunnerState, RunnerStatus
from kiroku.projections.notify import Rate
from kiroku.projections.readstore import ReadStore
from kiroku.projections.rebuild_needed import pending_rebuild
from kiroku.projections.source import lag_behind

__all__ = ["runner_status"]


class Standing(Protocol):
    """What a status is read from (a ``ProjectionRunner``)."""

    name: str
    journal: Journal
    store: ReadStore
    state: RunnerState
    error: str | None
    batch_size: int
    rate: Rate

    @property
    def position(self) -> int: ...

    @property
    def running(self) -> bool: ...

    @property
    def parked_count(self) -> int: ...

    @property
    def duplicates(self) -> int: ...

    async def note_caught_up(self, head: int | None = None) -> None: ...


async def runner_status(runner: Standing) -> RunnerStatus:
    # The store first, before any await: a rebuild may swap this runner out
    # and close its store while we wait on the journal.
    rebuild_pending = bool(pending_rebuild(runner.store.conn))
    head, lag_seconds = await lag_behind(runner.journal, runner.position)
    if runner.running:
        await runner.note_caught_up(head)
    state = runner.state
    if state is RunnerState.RUNNING and head - runner.position > runner.batch_size:
        state = RunnerState.CATCHING_UP  # following, but more than a batch behind
    return RunnerStatus(
        name=runner.name,
        state=state,
        position=runner.position,
        head=head,
        lag_events=max(0, head - runner.position),
        lag_seconds=lag_seconds,
        events_per_second=runner.rate.per_second(),
        parked=runner.parked_count,
        duplicates=runner.duplicates,
        error=runner.error,
        rebuild_pending=rebuild_pending,
    )
