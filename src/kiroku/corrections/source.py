"""Hooks for the read side and the write side to honour retractions.

``UnretractedSource`` is an event source for a projection runner that rebuilds
a read model as if retracted events had never happened. It does not drop the
voided events — runners check per-stream versions and would wait on the gap —
it *masks* them: same position, stream and version, type ``kiroku.Voided`` and
no data, so every consumer skips them as an event it does not subscribe to and
the ledger records truthfully that the event never reached it. Retractions
themselves pass through unchanged (a consumer with a retraction handler must
then find nothing to undo, which a well-written handler tolerates).

``snapshot_predates_retraction`` tells an aggregate's recovery that a snapshot
already folded in an event retracted since, so the snapshot must be ignored
and the state rebuilt from the stream (``exclude_retracted``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import msgspec

from kiroku.corrections.events import parse_retraction
from kiroku.corrections.exclusion import exclude_retracted, retracted_positions
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import Journal

__all__ = [
    "VOIDED_TYPE",
    "RecoveryView",
    "UnretractedSource",
    "mask_retracted",
    "recovery_view",
    "snapshot_predates_retraction",
]

VOIDED_TYPE = "kiroku.Voided"


def mask_retracted(events: Sequence[StoredEvent], voided: set[int]) -> list[StoredEvent]:
    """``events`` with every position in ``voided`` masked as ``kiroku.Voided``."""
    return [
        msgspec.structs.replace(e, type=VOIDED_TYPE, schema_version=1, data=b"{}")
        if e.position in voided
        else e
        for e in events
    ]


class UnretractedSource:
    """Reads the journal up to its head (or ``until``) with retracted events masked.

    The voided set is scanned once when iteration starts and grows with each
    retraction met on the way; a retraction appended after its original was
    already yielded calls for another rebuild (the ``rebuild`` strategy does so).
    """

    def __init__(self, journal: Journal, batch_size: int = 1000, until: int | None = None) -> None:
        self.journal = journal
        self.batch_size = batch_size
        self.until = until

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        voided = set(await retracted_positions(self.journal, self.batch_size))
        while self.until is None or after < self.until:
            batch = await self.journal.read_all(after, self.batch_size)
            if self.until is not None:
                batch = [e for e in batch if e.position <= self.until]
            if not batch:
                return
            for e in batch:
                found = parse_retraction(e)
                if found is not None:
                    voided.add(found.retracted_position)
            after = batch[-1].position
            yield mask_retracted(batch, voided)


def snapshot_predates_retraction(events_after_snapshot: Sequence[StoredEvent]) -> bool:
    """True when a retraction among the events after a snapshot voids an event
    *before* them — one the snapshot's state already contains."""
    if not events_after_snapshot:
        return False
    first = events_after_snapshot[0].position
    return any(
        r is not None and r.retracted_position < first
        for r in map(parse_retraction, events_after_snapshot)
    )


@dataclass(frozen=True, slots=True)
class RecoveryView:
    """What an aggregate's recovery should do with the events after its start point.

    ``fold``: the events to ``evolve`` (retracted and system events removed);
    ``version``: the stream version after them, system events included — the
    expected version of the next append; ``restart``: the start point (a
    snapshot, or state already in memory) contains an event retracted since, so
    recovery must begin again from version 0.
    """

    fold: list[StoredEvent]
    version: int
    restart: bool


def recovery_view(events: Sequence[StoredEvent], base_version: int) -> RecoveryView:
    """The retraction-aware reading of ``events`` read after ``base_version``."""
    version = events[-1].version if events else base_version
    fold = exclude_retracted(events)
    if len(fold) == len(events):  # no system events among them: nothing voided
        return RecoveryView(fold, version, restart=False)
    return RecoveryView(fold, version, snapshot_predates_retraction(events))
