"""What one batch changes besides the read model.

Stream versions, deferred events, ledger exceptions, newly parked streams: kept
apart until COMMIT succeeds, so a rolled-back batch leaves the runner's memory
exactly as the database, with nothing to undo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kiroku.domain.envelope import StoredEvent
from kiroku.projections.ledger import ExceptionRow
from kiroku.projections.model import BatchCommitted

__all__ = ["BatchWork", "merged"]


@dataclass(slots=True)
class BatchWork:
    versions: dict[str, tuple[int, int]] = field(default_factory=dict)
    pending: dict[str, dict[int, StoredEvent]] = field(default_factory=dict)
    exceptions: list[ExceptionRow] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    covered: list[int] = field(default_factory=list)  # positions taken in order (not dups)
    advance_to: int = 0  # the checkpoint may move here even if nothing was covered
    checkpoint: int = 0  # what the batch committed as the checkpoint
    batch: int = 0  # its number in the ledger
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    retractions: list[int] = field(default_factory=list)  # noted as calling for a rebuild

    @property
    def first(self) -> int:
        return min(self.covered, default=0)

    @property
    def last(self) -> int:
        return max(self.covered, default=0)

    def note(self, projection: str) -> BatchCommitted:
        """What listeners hear of this batch once committed."""
        return BatchCommitted(
            projection,
            self.batch,
            self.first,
            self.checkpoint,
            self.applied,
            tuple(sorted(self.versions)),
            self.parked,
        )

    def runs(self) -> list[tuple[int, int]]:
        """Covered positions as maximal runs of consecutive integers: the ledger's ranges."""
        runs: list[tuple[int, int]] = []
        for p in sorted(set(self.covered)):
            if runs and runs[-1][1] == p - 1:
                runs[-1] = (runs[-1][0], p)
            else:
                runs.append((p, p))
        return runs


def merged(base: Mapping[str, dict[int, StoredEvent]]) -> dict[str, dict[int, StoredEvent]]:
    return {s: dict(v) for s, v in base.items()}
