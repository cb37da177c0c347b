"""How a subscriber follows the PostgreSQL journal, and what holds it back.

A follower keeps its cursor ``(tx, position)``, reads the events after it
that lie below the horizon (``read_after``), and sleeps until a wake-up or the
fallback poll when there are none. While committed events wait behind an open
transaction it polls quickly instead, since that transaction's end sends no
notification, and past ``warn_after`` seconds it says so in the log once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiroku.domain.envelope import StoredEvent
from kiroku.journal.postgres.listen import Wakeup
from kiroku.journal.postgres.rows import EVENT_COLUMNS, Cursor, to_stored

__all__ = ["Horizon", "HorizonWatch", "follow"]

log = logging.getLogger("kiroku.journal.postgres.journal")

Fetch = Callable[[str, Any, Sequence[Any]], Awaitable[list[Any]]]

_READ_FROM_CURSOR = f"SELECT {EVENT_COLUMNS}, tx::text FROM read_after(%s::xid8, %s, %s)"
_WAITING = (
    "SELECT EXISTS (SELECT 1 FROM events WHERE tx >= pg_snapshot_xmin(pg_current_snapshot()))"
)


@dataclass(frozen=True, slots=True)
class Horizon:
    """What holds readers back now: export ``oldest_age_seconds`` as a metric.

    ``xmin`` is the oldest transaction still running; ``waiting_events`` have
    committed but wait behind it; ``oldest_age_seconds`` is how long the oldest
    transaction holding an id has been open (0 when reading pg_stat_activity is
    not allowed: grant ``pg_read_all_stats``).
    """

    xmin: str
    waiting_events: int
    oldest_age_seconds: float


class HorizonWatch:
    """Which followers wait on the horizon, since when, and whether that was logged."""

    def __init__(self, target: str, warn_after: float) -> None:
        self.target = target
        self.warn_after = warn_after
        self._since: dict[int, float] = {}
        self._warned: set[int] = set()

    @property
    def held_back_seconds(self) -> float:
        now = time.monotonic()
        return max((now - since for since in self._since.values()), default=0.0)

    def held(self, key: int) -> float:
        """``key`` waits on the horizon: for how long so far (warning once past the limit)."""
        held = time.monotonic() - self._since.setdefault(key, time.monotonic())
        if held >= self.warn_after and key not in self._warned:
            self._warned.add(key)
            log.warning(
                "journal %s: readers held back %.0fs by an open transaction; end it, and set"
                " idle_in_transaction_session_timeout for the writers' role (see horizon())",
                self.target,
                held,
            )
        return held

    def release(self, key: int) -> None:
        self._since.pop(key, None)
        self._warned.discard(key)


async def follow(
    fetch: Fetch,
    wakeup: Wakeup,
    watch: HorizonWatch,
    cursor: Cursor,
    batch_size: int,
    poll_interval: float,
) -> AsyncGenerator[list[StoredEvent], None]:
    """Batches after ``cursor`` until ``wakeup`` closes; the caller ends on JournalClosedError."""
    key = id(object())
    try:
        while not wakeup.closed:
            generation = wakeup.generation
            rows = await fetch("following", _READ_FROM_CURSOR, (*cursor, batch_size))
            if rows:
                watch.release(key)
                cursor = (rows[-1][-1], rows[-1][0])
                yield to_stored(rows)
                continue
            waiting = await fetch("checking the horizon", _WAITING, ())
            if waiting[0][0]:
                held = watch.held(key)
                await wakeup.wait_past(generation, min(0.05 + held / 10, poll_interval))
            else:
                watch.release(key)
                await wakeup.wait_past(generation, poll_interval)
    finally:
        watch.release(key)
