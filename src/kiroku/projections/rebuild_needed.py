"""Rebuilds that retractions call for, driven by the journal itself.

A projection compensating retractions by rebuild (``on_retraction = "rebuild"``)
must be rebuilt once a retraction voids an event it applied. Leaving that to the
process that appended the retraction is not durable: a crash in between, or a
retraction appended by another process (``kiroku retract`` beside a server),
would leave the read model showing the voided event. So the runner itself, on
meeting the retraction, records "rebuild needed" in its store inside the
batch's transaction — with the checkpoint, so the note is never lost and never
written twice — and only after the commit tells its host, which rebuilds once
however many retractions arrived (``scheduler.RebuildScheduler``).

A rebuild's shadow reads an ``UnretractedSource`` and meets retractions too. It
records one only if it applied the original *unmasked* — the retraction was
appended after its source had read past the original — so the new generation is
born with the flag and is rebuilt again. A retraction its source knew in time was
excluded: nothing to note. The new generation never inherits the old one's
notes: the swap is what clears them.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiroku.corrections.events import parse_retraction
from kiroku.corrections.source import VOIDED_TYPE
from kiroku.domain.envelope import StoredEvent, utc_now
from kiroku.projections.readstore import SqlConnection

__all__ = ["RebuildWatch", "pending_rebuild"]


def pending_rebuild(conn: SqlConnection) -> list[int]:
    """Positions of the retractions this store still needs a rebuild for."""
    rows = conn.execute("SELECT position FROM kiroku_rebuild_needed ORDER BY position")
    return [int(r[0]) for r in rows]


class RebuildWatch:
    """One rebuild-compensated runner's eye on retractions.

    ``masked`` holds the positions this runner received already voided (from an
    ``UnretractedSource``). It proves "never applied" only while the runner has
    seen its store's whole history, i.e. the store was empty when it opened it;
    a store with a past (a restart, a replay over the current read model) may
    hold an original's effect from before, so every retraction then counts.
    """

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self._masked: set[int] = set()
        self._trusted = False

    def restart(self, *, fresh: bool) -> None:
        """The runner (re)loaded its store; ``fresh``: nothing was ever applied to it."""
        self._masked.clear()
        self._trusted = fresh

    def note_masked(self, events: Sequence[StoredEvent]) -> None:
        """Remember which of a delivery's events arrived already voided (never applied)."""
        if self._trusted:
            self._masked.update(e.position for e in events if e.type == VOIDED_TYPE)

    def note_retraction(self, conn: SqlConnection, event: StoredEvent, noted: list[int]) -> None:
        """A retraction in order: note a rebuild (in the batch's transaction) if it voids
        an event of a handled type that this store may have applied."""
        body = parse_retraction(event)
        if body is None or body.original_type not in self.names:
            return
        if body.retracted_position in self._masked:
            self._masked.discard(body.retracted_position)  # excluded already: nothing to undo
            return
        cur = conn.execute(
            "INSERT INTO kiroku_rebuild_needed"
            "(position, retracted_position, original_type, noted_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(position) DO NOTHING",
            (event.position, body.retracted_position, body.original_type, utc_now().isoformat()),
        )
        if cur.rowcount:  # a replay meeting it again while still pending tells no one twice
            noted.append(event.position)
