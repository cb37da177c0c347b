"""The read side's vocabulary: policies, statuses, outcomes. Values only, no I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

__all__ = [
    "BatchCommitted",
    "FailurePolicy",
    "LedgerEntry",
    "Outcome",
    "ParkedEvent",
    "Progress",
    "RunnerState",
    "RunnerStatus",
]


class Outcome(enum.StrEnum):
    """What a consumer did with one event (the ledger's answer)."""

    APPLIED = "applied"
    DUPLICATE = "duplicate-skipped"
    PARKED = "parked"
    SKIPPED = "explicitly-skipped"
    DEFERRED = "deferred"  # arrived ahead of a gap; applied in a later batch
    NOT_SUBSCRIBED = "not-subscribed"
    NOT_REACHED = "not-yet-reached"


class RunnerState(enum.StrEnum):
    RUNNING = "running"
    CATCHING_UP = "catching up"
    STOPPED = "stopped"
    FAILED = "failed"
    RETRYING = "retrying"  # stopped by a storage error (full, locked, I/O); resumes by itself


@dataclass(frozen=True, slots=True)
class FailurePolicy:
    """How a runner treats an event it cannot apply.

    Each failure is retried ``attempts`` times in all, waiting ``backoff`` seconds
    and doubling up to ``max_backoff``; then the event is parked. With ``stop`` the
    runner then stops (state failed) before that position; with ``continue`` it
    goes on, parking later events of the same stream behind it ("held") until the
    first is retried or skipped, so no stream is ever applied out of order.
    """

    attempts: int = 3
    backoff: float = 0.05
    max_backoff: float = 2.0
    on_exhausted: Literal["stop", "continue"] = "stop"

    def delay(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2 ** (attempt - 1))))


@dataclass(frozen=True, slots=True)
class RunnerStatus:
    name: str
    state: RunnerState
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    events_per_second: float
    parked: int
    duplicates: int
    error: str | None = None
    rebuild_pending: bool = False  # a retraction calls for a rebuild not yet swapped in


@dataclass(frozen=True, slots=True)
class BatchCommitted:
    """Told to listeners after each committed batch (e.g. to push server-sent events)."""

    projection: str
    batch: int
    first_position: int
    last_position: int
    applied: int
    streams: tuple[str, ...]
    parked: int = 0  # events this batch parked (failed, or held behind one)


@dataclass(frozen=True, slots=True)
class ParkedEvent:
    """A dead letter: an event a projection could not apply, and why."""

    projection: str
    id: int
    position: int
    stream: str
    version: int
    event_id: str
    type: str
    kind: Literal["failed", "held", "gap"]
    error: str
    traceback: str
    attempts: int
    parked_at: datetime
    status: Literal["parked", "retried", "skipped", "replayed"]
    reason: str | None
    resolved_at: datetime | None

    @property
    def ref(self) -> str:
        """How the command line names it: ``projection:id``."""
        return f"{self.projection}:{self.id}"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One consumer's answer for one event."""

    projection: str
    position: int
    outcome: Outcome
    batch: int | None = None
    processed_at: datetime | None = None
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """Reported while replaying or rebuilding."""

    projection: str
    position: int
    target: int
    events: int
    events_per_second: float
    eta_seconds: float | None
    parked: int = 0  # events this pass parked so far: a pass that parked is not simply done
