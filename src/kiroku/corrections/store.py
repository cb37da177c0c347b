"""Durable storage for hold-back consumers: held events, their fate, pending
compensations and the consumer's read checkpoint, in one SQLite file.

Everything one batch changes (new held events, retractions applied, the
checkpoint) is written in one transaction, so a crash re-reads the batch and
the ``INSERT OR IGNORE`` keys make the repeat harmless. Times are stored as
integer microseconds since the epoch so that SQL comparisons are exact.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from kiroku.corrections.rows import COLUMNS, SCHEMA, event_of, row_of, time_of, us_of
from kiroku.corrections.service import Exposure
from kiroku.domain.envelope import StoredEvent

__all__ = ["HoldStatus", "SQLiteHoldStore"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class HoldStatus:
    """What an operator sees for one hold-back consumer."""

    consumer: str
    held: int
    oldest_position: int | None
    oldest_occurred_at: datetime | None
    next_release_at: datetime | None
    released: int
    retracted: int
    pending_compensations: int


class SQLiteHoldStore:
    """Held events of any number of hold-back consumers, keyed by consumer name."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")  # another process may hold the lock
            self._db.executescript(SCHEMA)

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return fn(self._db)

        return await asyncio.to_thread(locked)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def tx(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return out

        return await self._run(tx)

    async def checkpoint(self, consumer: str) -> int:
        row = await self._run(
            lambda db: db.execute(
                "SELECT position FROM hold_checkpoints WHERE consumer = ?", (consumer,)
            ).fetchone()
        )
        return int(row[0]) if row else 0

    async def record_batch(
        self,
        consumer: str,
        held: Sequence[tuple[StoredEvent, datetime]],
        retractions: Sequence[tuple[int, int]],
        checkpoint: int,
    ) -> None:
        """Hold ``held`` (event, release time), apply ``retractions`` (retracted
        position, retraction position) and move the checkpoint, atomically."""

        def tx(db: sqlite3.Connection) -> None:
            for stored, release_at in held:
                db.execute(
                    f"INSERT OR IGNORE INTO held_events (consumer, {COLUMNS}, release_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (consumer, *row_of(stored), us_of(release_at)),
                )
            for retracted, retraction in retractions:
                _apply_retraction(db, consumer, retracted, retraction)
            db.execute(
                "INSERT INTO hold_checkpoints VALUES (?, ?) ON CONFLICT (consumer) "
                "DO UPDATE SET position = max(position, excluded.position)",
                (consumer, checkpoint),
            )

        await self._write(tx)

    async def due(self, consumer: str, now: datetime, limit: int = 100) -> list[StoredEvent]:
        """Held events whose release time has come, oldest release first."""
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT {COLUMNS} FROM held_events WHERE consumer = ? AND status = 'held' "
                "AND release_at <= ? ORDER BY release_at, position LIMIT ?",
                (consumer, us_of(now), limit),
            ).fetchall()
        )
        return [event_of(r) for r in rows]

    async def next_release_at(self, consumer: str) -> datetime | None:
        row = await self._run(
            lambda db: db.execute(
                "SELECT min(release_at) FROM held_events WHERE consumer = ? AND status = 'held'",
                (consumer,),
            ).fetchone()
        )
        return time_of(row[0]) if row and row[0] is not None else None

    async def settle(self, consumer: str, position: int, status: str, at: datetime) -> bool:
        """Move a held event to ``released`` or ``retracted``; False if it was not held."""
        if status not in ("released", "retracted"):
            raise ValueError(f"status must be 'released' or 'retracted', got {status!r}")
        cursor = await self._write(
            lambda db: db.execute(
                "UPDATE held_events SET status = ?, settled_at = ? "
                "WHERE consumer = ? AND position = ? AND status = 'held'",
                (status, us_of(at), consumer, position),
            )
        )
        return cursor.rowcount == 1

    async def pending_compensations(self, consumer: str) -> list[tuple[int, int]]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT retracted_position, retraction_position FROM compensations "
                "WHERE consumer = ? AND done_at IS NULL ORDER BY retraction_position",
                (consumer,),
            ).fetchall()
        )
        return [(int(a), int(b)) for a, b in rows]

    async def compensated(self, consumer: str, retracted_position: int, at: datetime) -> bool:
        cursor = await self._write(
            lambda db: db.execute(
                "UPDATE compensations SET done_at = ? WHERE consumer = ? "
                "AND retracted_position = ? AND done_at IS NULL",
                (us_of(at), consumer, retracted_position),
            )
        )
        return cursor.rowcount == 1

    async def consumers(self) -> list[str]:
        """Every consumer that has recorded anything here, by name."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT consumer FROM hold_checkpoints ORDER BY consumer"
            ).fetchall()
        )
        return [str(r[0]) for r in rows]

    async def status(self, consumer: str) -> HoldStatus:
        return await self._run(lambda db: _status(db, consumer))

    async def exposures(self, position: int) -> list[Exposure]:
        """Which hold-back consumers acted on (or still hold) ``position``."""
        rows = await self._run(
            lambda db: db.execute(
                "SELECT consumer, status, settled_at FROM held_events "
                "WHERE position = ? AND status IN ('held', 'released')",
                (position,),
            ).fetchall()
        )
        outcome = {"held": "held", "released": "acted"}
        return [
            Exposure(c, outcome[s], time_of(at) if at is not None else None) for c, s, at in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _apply_retraction(db: sqlite3.Connection, consumer: str, retracted: int, by: int) -> None:
    """Drop a still-held event; queue a compensation if it was already released."""
    db.execute(
        "UPDATE held_events SET status = 'retracted' "
        "WHERE consumer = ? AND position = ? AND status = 'held'",
        (consumer, retracted),
    )
    released = db.execute(
        "SELECT 1 FROM held_events WHERE consumer = ? AND position = ? AND status = 'released'",
        (consumer, retracted),
    ).fetchone()
    if released:
        db.execute(
            "INSERT OR IGNORE INTO compensations VALUES (?, ?, ?, NULL)", (consumer, retracted, by)
        )


def _status(db: sqlite3.Connection, consumer: str) -> HoldStatus:
    counts = dict(
        db.execute(
            "SELECT status, count(*) FROM held_events WHERE consumer = ? GROUP BY status",
            (consumer,),
        ).fetchall()
    )
    oldest = db.execute(
        "SELECT position, occurred_at FROM held_events WHERE consumer = ? AND status = 'held' "
        "ORDER BY position LIMIT 1",
        (consumer,),
    ).fetchone()
    nxt = db.execute(
        "SELECT min(release_at) FROM held_events WHERE consumer = ? AND status = 'held'",
        (consumer,),
    ).fetchone()[0]
    pending = db.execute(
        "SELECT count(*) FROM compensations WHERE consumer = ? AND done_at IS NULL", (consumer,)
    ).fetchone()[0]
    return HoldStatus(
        consumer=consumer,
        held=int(counts.get("held", 0)),
        oldest_position=int(oldest[0]) if oldest else None,
        oldest_occurred_at=time_of(oldest[1]) if oldest else None,
        next_release_at=time_of(nxt) if nxt is not None else None,
        released=int(counts.get("released", 0)),
        retracted=int(counts.get("retracted", 0)),
        pending_compensations=int(pending),
    )
