"""The consumption ledger and the parked events of one read store.

The ledger grows per batch, not per event: one row says "batch B covered
positions F..L at time T"; every event in that range of a subscribed type was
applied, unless an exception row says otherwise (duplicate, parked, deferred,
explicitly skipped, or applied later by a retry). The latest batch that mentions
a position wins, so the answer stays exact across retries and replays.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, cast

from kiroku.projections.checkpoint import now_text
from kiroku.projections.model import LedgerEntry, Outcome, ParkedEvent
from kiroku.projections.readstore import SqlConnection

__all__ = [
    "ExceptionRow",
    "is_parked",
    "ledger_lookup",
    "load_parked",
    "mark_replayed",
    "open_parked_streams",
    "park",
    "parked_count",
    "record_batch",
    "resolve_parked",
]

ExceptionRow = tuple[int, str, str | None]  # position, outcome, detail


def record_batch(
    conn: SqlConnection,
    batch: int,
    runs: Iterable[tuple[int, int]],
    exceptions: Iterable[ExceptionRow],
) -> None:
    """One row per run of consecutive positions (one per batch when delivery is in order)."""
    at = now_text()
    conn.executemany(
        "INSERT INTO kiroku_batches(batch, first_position, last_position, processed_at)"
        " VALUES (?, ?, ?, ?)",
        [(batch, first, last, at) for first, last in runs],
    )
    conn.executemany(
        "INSERT INTO kiroku_ledger_exceptions"
        "(position, batch, outcome, detail, processed_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(position, batch) DO UPDATE SET outcome = excluded.outcome,"
        " detail = excluded.detail, processed_at = excluded.processed_at",
        [(p, batch, o, d, at) for p, o, d in exceptions],
    )


def ledger_lookup(conn: SqlConnection, name: str, position: int) -> LedgerEntry | None:
    """The latest record of ``position`` in this store, or None if it was never reached.

    A duplicate delivery does not hide what happened to the original: it is the
    answer only when nothing else was recorded for the position.
    """
    ranged = conn.execute(
        "SELECT batch, processed_at FROM kiroku_batches WHERE first_position <= ? "
        "AND last_position >= ? ORDER BY batch DESC LIMIT 1",
        (position, position),
    ).fetchone()
    exc = conn.execute(
        "SELECT batch, processed_at, outcome, detail FROM kiroku_ledger_exceptions "
        "WHERE position = ? ORDER BY outcome = ?, batch DESC LIMIT 1",
        (position, Outcome.DUPLICATE.value),
    ).fetchone()
    if exc is not None and exc[2] == Outcome.DUPLICATE and ranged is not None:
        exc = None
    if exc is not None and (ranged is None or int(exc[0]) >= int(ranged[0])):
        at = datetime.fromisoformat(exc[1])
        return LedgerEntry(name, position, Outcome(exc[2]), int(exc[0]), at, exc[3])
    if ranged is not None:
        at = datetime.fromisoformat(ranged[1])
        return LedgerEntry(name, position, Outcome.APPLIED, int(ranged[0]), at)
    return None


_PARKED_COLUMNS = (
    "id, position, stream, version, event_id, type, kind, error, traceback, attempts,"
    " parked_at, status, reason, resolved_at"
)


def park(
    conn: SqlConnection,
    *,
    position: int,
    stream: str,
    version: int,
    event_id: str,
    type_name: str,
    kind: str,
    error: str,
    traceback: str,
    attempts: int,
) -> int:
    """Park an event, or update the open record of the same event (a stop-mode restart)."""
    row = conn.execute(
        "SELECT id, attempts FROM kiroku_parked WHERE position = ? AND status = 'parked'",
        (position,),
    ).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE kiroku_parked SET error = ?, traceback = ?, attempts = ?, kind = ? "
            "WHERE id = ?",
            (error, traceback, int(row[1]) + attempts, kind, row[0]),
        )
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO kiroku_parked(position, stream, version, event_id, type, kind, error,"
        " traceback, attempts, parked_at, status) VALUES (?,?,?,?,?,?,?,?,?,?, 'parked')"
        " RETURNING id",
        (
            position,
            stream,
            version,
            event_id,
            type_name,
            kind,
            error,
            traceback,
            attempts,
            now_text(),
        ),
    )
    return int(cast(int, cur.fetchall()[0][0]))


def _parked(name: str, row: tuple[object, ...]) -> ParkedEvent:
    resolved = row[13]
    return ParkedEvent(
        projection=name,
        id=cast(int, row[0]),
        position=cast(int, row[1]),
        stream=cast(str, row[2]),
        version=cast(int, row[3]),
        event_id=cast(str, row[4]),
        type=cast(str, row[5]),
        kind=cast(Literal["failed", "held", "gap"], row[6]),
        error=cast(str, row[7]),
        traceback=cast(str, row[8]),
        attempts=cast(int, row[9]),
        parked_at=datetime.fromisoformat(cast(str, row[10])),
        status=cast(Literal["parked", "retried", "skipped", "replayed"], row[11]),
        reason=cast("str | None", row[12]),
        resolved_at=datetime.fromisoformat(cast(str, resolved)) if resolved else None,
    )


def load_parked(
    conn: SqlConnection, name: str, *, open_only: bool = True, ident: int | None = None
) -> list[ParkedEvent]:
    sql = f"SELECT {_PARKED_COLUMNS} FROM kiroku_parked"
    terms, params = [], []
    if open_only:
        terms.append("status = 'parked'")
    if ident is not None:
        terms.append("id = ?")
        params.append(ident)
    if terms:
        sql += " WHERE " + " AND ".join(terms)
    rows = conn.execute(sql + " ORDER BY position", params).fetchall()
    return [_parked(name, r) for r in rows]


def is_parked(conn: SqlConnection, position: int) -> bool:
    row = conn.execute(
        "SELECT 1 FROM kiroku_parked WHERE position = ? AND status = 'parked'", (position,)
    ).fetchone()
    return row is not None


def parked_count(conn: SqlConnection) -> int:
    row = conn.execute("SELECT count(*) FROM kiroku_parked WHERE status = 'parked'").fetchone()
    return int(row[0])


def open_parked_streams(conn: SqlConnection) -> set[str]:
    rows = conn.execute("SELECT DISTINCT stream FROM kiroku_parked WHERE status = 'parked'")
    return {str(r[0]) for r in rows}


def resolve_parked(conn: SqlConnection, ident: int, status: str, reason: str | None) -> None:
    conn.execute(
        "UPDATE kiroku_parked SET status = ?, reason = ?, resolved_at = ? WHERE id = ?",
        (status, reason, now_text(), ident),
    )


def mark_replayed(conn: SqlConnection, position: int, reason: str) -> None:
    """Open parked events at or after ``position`` are replayed: resolved as such."""
    conn.execute(
        "UPDATE kiroku_parked SET status = 'replayed', resolved_at = ?, reason = ? "
        "WHERE status = 'parked' AND position >= ?",
        (now_text(), reason, position),
    )
