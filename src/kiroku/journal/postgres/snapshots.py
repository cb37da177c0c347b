"""Snapshots in the PostgreSQL journal, big ones in parts.

A 55 MB snapshot (a 1M-message room) in one INSERT is one transaction that
sends, TOASTs and WAL-logs 55 MB: it holds a pooled connection all along, and
every append that commits meanwhile waits for its WAL flush to cover the
snapshot's WAL written before the append's commit record. So data above
``PART_SIZE`` goes into ``snapshot_parts``, one autocommit statement (one
transaction, one pooled connection taken and given back) per part, each
waited for before the next is sent. Appends never join these transactions:
they commit on the group writer's own connection, so at worst one commit
shares a WAL flush with one part, never with the whole snapshot.
(Sharing the writer's transaction instead would make every append batch
wait for a part's transfer and insert: tens of milliseconds against an
append's one or two.)

The parts become the snapshot only when the ``snapshots`` row names their
version and count: one last small statement that locks and counts the
parts and replaces the row only if all are there. A crash, a cut connection
or a cancelled save before it leaves the previous snapshot in force and some
parts of a version no row names; those, and the parts of a snapshot since
replaced, are deleted after the next save of the stream, a few parts per
statement. ``load`` reads the row and its parts in one statement, that is in
one MVCC snapshot, so it never sees a half-replaced snapshot. Data up to
``PART_SIZE`` stays in the row itself: one statement, as before.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from psycopg.types.json import Jsonb

from kiroku.errors import JournalError, KirokuError
from kiroku.journal.postgres.connections import Connections
from kiroku.journal.postgres.rows import to_snapshot
from kiroku.journal.protocol import Snapshot

__all__ = ["DELETE_BATCH", "PART_SIZE", "load", "part_rows", "save", "snapshot_row"]

PART_SIZE = 1 << 20
"""Bytes of snapshot data per transaction; a snapshot up to this size is one row."""

DELETE_BATCH = 8
"""Stale parts deleted per statement."""

log = logging.getLogger(__name__)

_COLUMNS = "stream, version, state_type, state_version, data, taken_at, metadata, parts"
_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS.split(", ")[1:])
_VALUES = (
    "%(stream)s::text, %(version)s::bigint, %(state_type)s::text, %(state_version)s::integer,"
    " %(data)s::bytea, %(taken_at)s::timestamptz, %(metadata)s::jsonb, %(parts)s::integer"
)
SAVE_ROW = f"INSERT INTO snapshots ({_COLUMNS}) VALUES ({_VALUES})"

_SAVE_WHOLE = (
    f"WITH saved AS ({SAVE_ROW} ON CONFLICT (stream) DO UPDATE SET {_UPDATE} RETURNING 1)"
    " SELECT EXISTS (SELECT 1 FROM snapshot_parts"
    " WHERE stream = %(stream)s AND version <= %(version)s) FROM saved"
)
SAVE_PART = (
    "INSERT INTO snapshot_parts (stream, version, part, parts, data) VALUES (%s, %s, %s, %s, %s)"
)
_SAVE_PART = (
    f"{SAVE_PART} ON CONFLICT (stream, version, part) DO UPDATE"
    " SET parts = EXCLUDED.parts, data = EXCLUDED.data RETURNING 1"
)
# The parts are locked (FOR KEY SHARE) so that no cleanup deletes one between
# the count and the commit; the row is replaced only if every part is there.
_USE_PARTS = (
    "WITH stored AS (SELECT count(*) AS n FROM (SELECT 1 FROM snapshot_parts"
    " WHERE stream = %(stream)s AND version = %(version)s AND parts = %(parts)s"
    " FOR KEY SHARE) found),"
    f" saved AS (INSERT INTO snapshots ({_COLUMNS}) SELECT {_VALUES} FROM stored"
    f" WHERE stored.n = %(parts)s ON CONFLICT (stream) DO UPDATE SET {_UPDATE} RETURNING 1)"
    " SELECT (SELECT n FROM stored), EXISTS (SELECT 1 FROM snapshot_parts"
    " WHERE stream = %(stream)s AND (version < %(version)s"
    " OR (version = %(version)s AND parts <> %(parts)s)))"
)
# Stale: a part of an older version than the row's, or of its version with another
# count (a whole snapshot, or a save cut short and redone at the same version).
# Parts of a newer version may be a save still under way: they stay.
_DELETE_STALE = (
    "WITH gone AS (DELETE FROM snapshot_parts WHERE (stream, version, part) IN ("
    " SELECT p.stream, p.version, p.part FROM snapshot_parts p"
    " JOIN snapshots s ON s.stream = p.stream WHERE p.stream = %s"
    " AND (p.version < s.version OR (p.version = s.version AND p.parts <> s.parts))"
    " LIMIT %s) RETURNING 1) SELECT count(*) FROM gone"
)
_LOAD = (
    "SELECT s.stream, s.version, s.state_type, s.state_version, s.data, s.taken_at,"
    " s.metadata, s.parts, p.part, p.data FROM snapshots s LEFT JOIN snapshot_parts p"
    " ON s.parts > 0 AND p.stream = s.stream AND p.version = s.version AND p.parts = s.parts"
    " WHERE s.stream = %s ORDER BY p.part"
)


def snapshot_row(s: Snapshot, parts: int = 0) -> dict[str, Any]:
    """``SAVE_ROW``'s parameters; with ``parts``, the data lives in the parts."""
    return {
        "stream": s.stream, "version": s.version, "state_type": s.state_type,
        "state_version": s.state_version, "data": b"" if parts else s.data,
        "taken_at": s.taken_at, "metadata": Jsonb(dict(s.metadata)), "parts": parts,
    }  # fmt: skip


def part_rows(s: Snapshot) -> list[tuple[str, int, int, int, memoryview]]:
    """``SAVE_PART``'s parameters, one tuple per part (none for a one-row snapshot)."""
    size = len(s.data)
    if size <= PART_SIZE:
        return []
    parts = -(-size // PART_SIZE)
    view = memoryview(s.data)
    return [
        (s.stream, s.version, i, parts, view[i * PART_SIZE : (i + 1) * PART_SIZE])
        for i in range(parts)
    ]


async def save(db: Connections, snapshot: Snapshot) -> None:
    doing = f"saving the snapshot of {snapshot.stream}"
    parts = part_rows(snapshot)
    if not parts:
        rows = await db.fetch(doing, _SAVE_WHOLE, snapshot_row(snapshot))
        stale = bool(rows[0][0])
    else:
        for row in parts:  # one transaction each: appends commit in between
            await db.fetch(doing, _SAVE_PART, row)
        rows = await db.fetch(doing, _USE_PARTS, snapshot_row(snapshot, len(parts)))
        found, stale = int(rows[0][0]), bool(rows[0][1])
        if found != len(parts):
            raise JournalError(
                f"snapshot of {snapshot.stream} at version {snapshot.version}: {found} of"
                f" {len(parts)} parts are stored (another process replaced them meanwhile)"
            )
    if stale:
        await _delete_stale(db, snapshot.stream)


async def _delete_stale(db: Connections, stream: str) -> None:
    """Delete parts no row names, a few per transaction. The snapshot is saved
    already: a failure here is logged, and the next save of the stream retries."""
    doing = f"deleting stale snapshot parts of {stream}"
    deleted = DELETE_BATCH
    try:
        while deleted == DELETE_BATCH:
            deleted = int(await db.scalar(doing, _DELETE_STALE, (stream, DELETE_BATCH)))
    except KirokuError as e:
        log.warning("%s: %s", doing, e)


async def load(db: Connections, stream: str) -> Snapshot | None:
    rows = await db.fetch(f"loading the snapshot of {stream}", _LOAD, (stream,))
    if not rows:
        return None
    first = rows[0]
    snapshot = to_snapshot(first[:7])
    parts = int(first[7])
    if parts == 0:
        return snapshot
    found = [row[8] for row in rows]
    if found != list(range(parts)):  # not by this module's writes: the row needs them all
        log.warning(
            "snapshot of %s at version %d: parts %s stored of %d; ignoring it",
            stream, snapshot.version, found, parts,
        )  # fmt: skip
        return replace(snapshot, data=b"")
    return replace(snapshot, data=b"".join([row[9] for row in rows]))
