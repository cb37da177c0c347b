"""Seeing the journal as if retracted events had never happened.

Two readers need this view. An aggregate recovering its state reads one
stream, which holds both the original and its retraction, so the pure
``exclude_retracted`` suffices. A read model rebuilt from scratch reads the
whole journal; ``retracted_positions`` collects the voided positions first so
a single pass can then skip them (and the retractions themselves).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from kiroku.corrections.events import (
    RETRACTED_TYPE,
    SYSTEM_PREFIX,
    is_system_type,
    parse_retraction,
)
from kiroku.domain.envelope import StoredEvent
from kiroku.journal.protocol import Journal

__all__ = [
    "exclude_retracted",
    "find_retraction",
    "is_retracted",
    "retracted_positions",
    "without_retracted",
]

Ev = TypeVar("Ev", bound=StoredEvent)


def exclude_retracted(events: Iterable[Ev]) -> list[Ev]:
    """``events`` minus every event retracted *within them* and minus the
    system events: what a decider's ``evolve`` should see on recovery.

    Pure and order-preserving; a retraction pointing outside ``events`` (e.g.
    behind a snapshot) voids nothing here — that case is the caller's to handle.
    When nothing is removed, a list passed in is returned itself, not copied:
    recovery folds thousands of events and most streams hold no system event.
    """
    kept = events if isinstance(events, list) else list(events)
    system = [e for e in kept if e.type.startswith(SYSTEM_PREFIX)]
    if not system:  # the common case, one cheap scan: recovery's hot path
        return kept
    voided = {r.retracted_position for r in map(parse_retraction, system) if r is not None}
    return [e for e in kept if e.position not in voided and not is_system_type(e.type)]


def without_retracted(events: Iterable[Ev], voided: frozenset[int]) -> list[Ev]:
    """``events`` minus the positions in ``voided`` and minus retractions: one
    pass of a rebuild, given ``retracted_positions`` computed up front."""
    return [e for e in events if e.position not in voided and e.type != RETRACTED_TYPE]


async def retracted_positions(journal: Journal, batch_size: int = 1000) -> frozenset[int]:
    """Every position the journal holds a retraction for (a full scan)."""
    voided: set[int] = set()
    after = 0
    while batch := await journal.read_all(after, batch_size):
        for stored in batch:
            retraction = parse_retraction(stored)
            if retraction is not None:
                voided.add(retraction.retracted_position)
        after = batch[-1].position
    return frozenset(voided)


async def find_retraction(journal: Journal, original: StoredEvent) -> StoredEvent | None:
    """The retraction of ``original``, read from its own stream (where it must be)."""
    for stored in await journal.read_stream(original.stream, original.version + 1):
        retraction = parse_retraction(stored)
        if retraction is not None and retraction.retracted_position == original.position:
            return stored
    return None


async def is_retracted(journal: Journal, original: StoredEvent) -> bool:
    return await find_retraction(journal, original) is not None
