"""Skips as durable operator decisions: who gave up on which event of which
projection, when, and why.

Skipping a parked event resolves it in the serving store, but a store is
disposable: a rebuild writes a new one, a replay goes over the position again,
a retraction's rebuild starts from nothing. So the decision itself is kept
apart from any generation (the host keeps it in ``read.db``), and every pass of
the projection (live, replay, rebuild, as-of) reads it: a skipped position is
passed over on the record ("skipped by X: reason" in the ledger), never run
again, never parked again. Only an operator's explicit skip goes here; nothing
is ever skipped without one.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kiroku.domain.envelope import utc_now
from kiroku.errors import ReadStoreError
from kiroku.projections.readstore import SqlConnection

__all__ = ["Skip", "SkipBook"]


@dataclass(frozen=True, slots=True)
class Skip:
    projection: str
    position: int
    event_id: str
    by: str
    reason: str
    at: datetime

    @property
    def detail(self) -> str:
        """The ledger's words for it."""
        return f"skipped by {self.by}: {self.reason}"


class SkipBook:
    """The skips of every projection of a host, in one small SQLite file."""

    def __init__(self, conn: SqlConnection, *, owned: sqlite3.Connection | None = None) -> None:
        """On ``conn`` (a runner without a host keeps its skips in its own store)."""
        self._conn = conn
        self._owned = owned
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS kiroku_skips (projection TEXT NOT NULL,"
                ' position INTEGER NOT NULL, event_id TEXT NOT NULL, "by" TEXT NOT NULL,'
                " reason TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (projection, position))"
            )
        except sqlite3.Error as e:
            raise ReadStoreError("*", None, f"cannot open the skips: {e}") from e

    @classmethod
    def open(cls, path: Path | str, *, busy_ms: int = 5000) -> SkipBook:
        """A book in its own file (a host's ``read.db``), closed with ``close``."""
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout={busy_ms}")
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as e:
            raise ReadStoreError("*", None, f"cannot open the skips in {path}: {e}") from e
        return cls(conn, owned=conn)

    def record(self, projection: str, position: int, event_id: str, by: str, reason: str) -> Skip:
        skip = Skip(projection, position, event_id, by, reason, utc_now())
        try:
            self._conn.execute(
                "INSERT INTO kiroku_skips VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(projection,"
                ' position) DO UPDATE SET event_id = excluded.event_id, "by" = excluded."by",'
                " reason = excluded.reason, at = excluded.at",
                (projection, position, event_id, by, reason, skip.at.isoformat()),
            )
        except sqlite3.Error as e:
            raise ReadStoreError(projection, position, f"cannot record the skip: {e}") from e
        return skip

    def of(self, projection: str) -> dict[int, Skip]:
        """Every skip of ``projection``, by position."""
        try:
            rows = self._conn.execute(
                'SELECT position, event_id, "by", reason, at FROM kiroku_skips'
                " WHERE projection = ? ORDER BY position",
                (projection,),
            ).fetchall()
        except sqlite3.Error as e:
            raise ReadStoreError(projection, None, f"cannot read the skips: {e}") from e
        return {
            int(p): Skip(projection, int(p), str(i), str(b), str(r), datetime.fromisoformat(a))
            for p, i, b, r, a in rows
        }

    def close(self) -> None:
        if self._owned is not None:
            self._owned.close()
