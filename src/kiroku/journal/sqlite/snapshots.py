"""Snapshots in the SQLite journal, big ones in parts.

A snapshot is written by the writer thread, and the writer commits every job
it holds in one transaction: a 50 MB snapshot written in one job would hold
back every append queued behind it for as long as SQLite takes to write and
fsync 50 MB (half a second and more). So data above ``PART_SIZE`` is written
in parts, one writer job (one transaction) per part, each waited for before
the next is queued: appends that arrive meanwhile share a commit with a part
of at most ``PART_SIZE`` bytes, never with the whole snapshot.

The parts become the snapshot only when the row in ``snapshots`` names their
version: a last small job that checks every part is there and then replaces
the row. A crash before it leaves unreferenced parts and the previous
snapshot in force; the parts of versions no longer in force are deleted
afterwards, a part per job, for the same reason. ``load`` reads the row and
its parts in one statement, so it never sees a half-replaced snapshot.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import replace
from typing import Any

from kiroku.errors import JournalError
from kiroku.journal.protocol import Snapshot
from kiroku.journal.sqlite.schema import encode_snapshot, to_snapshot
from kiroku.journal.sqlite.writer import Tx

__all__ = ["PART_SIZE", "delete_stale_part", "load", "save_part", "save_whole", "use_parts"]

PART_SIZE = 1 << 20
"""Bytes of snapshot data per writer transaction."""

log = logging.getLogger(__name__)

_LOAD = (
    "SELECT s.stream, s.version, s.state_type, s.state_version, CAST(s.data AS BLOB),"
    " s.taken_at, s.metadata, p.part, p.parts, p.data"
    " FROM snapshots s LEFT JOIN snapshot_parts p ON p.stream = s.stream AND p.version = s.version"
    " WHERE s.stream = ? ORDER BY p.part"
)
_REPLACE = (
    "INSERT OR REPLACE INTO snapshots (stream, version, state_type, state_version, data,"
    " taken_at, metadata) VALUES (?,?,?,?,?,?,?)"
)
_SAVE_PART = (
    "INSERT OR REPLACE INTO snapshot_parts (stream, version, part, parts, data) VALUES (?,?,?,?,?)"
)
_COUNT_PARTS = "SELECT count(*) FROM snapshot_parts WHERE stream = ? AND version = ? AND parts = ?"
_ANY_PART = "SELECT 1 FROM snapshot_parts WHERE stream = ? AND version != ? LIMIT 1"
_DELETE_STALE_PART = (
    "DELETE FROM snapshot_parts WHERE rowid ="
    " (SELECT rowid FROM snapshot_parts WHERE stream = ? AND version != ? LIMIT 1)"
)


def save_whole(snapshot: Snapshot, tx: Tx) -> bool:
    """A snapshot small enough for one job; True if parts of an older one are left."""
    tx.conn.execute(_REPLACE, encode_snapshot(snapshot))
    return _stale_parts(tx.conn, snapshot.stream, snapshot.version)


def save_part(
    stream: str, version: int, part: int, parts: int, data: bytes | memoryview, tx: Tx
) -> None:
    tx.conn.execute(_SAVE_PART, (stream, version, part, parts, data))


def use_parts(snapshot: Snapshot, parts: int, tx: Tx) -> bool:
    """Make the parts written for ``snapshot`` the stream's snapshot; True if parts
    of an older one are left. Refuses if a part is missing (another process wrote
    or cleared parts of this stream meanwhile): the snapshot in force stays."""
    conn, stream, version = tx.conn, snapshot.stream, snapshot.version
    found = conn.execute(_COUNT_PARTS, (stream, version, parts)).fetchone()[0]
    if found != parts:
        raise JournalError(
            f"snapshot of {stream} at version {version}: {found} of {parts} parts are stored"
        )
    conn.execute(_REPLACE, encode_snapshot(replace(snapshot, data=b"")))
    return _stale_parts(conn, stream, version)


def delete_stale_part(stream: str, version: int, tx: Tx) -> bool:
    """Delete one part of a snapshot other than the one at ``version``; True if
    there was one (call again), False when none is left."""
    return tx.conn.execute(_DELETE_STALE_PART, (stream, version)).rowcount > 0


def _stale_parts(conn: sqlite3.Connection, stream: str, version: int) -> bool:
    return conn.execute(_ANY_PART, (stream, version)).fetchone() is not None


def load(stream: str, conn: sqlite3.Connection) -> Snapshot | None:
    rows = conn.execute(_LOAD, (stream,)).fetchall()
    if not rows:
        return None
    first = rows[0]
    snapshot = to_snapshot(first[:7])
    if first[7] is None:  # stored whole
        return snapshot
    return _joined(snapshot, rows)


def _joined(snapshot: Snapshot, rows: list[Any]) -> Snapshot:
    """The snapshot with its parts' data, or with no data (unreadable, so recovery
    folds the events instead) if the parts do not add up."""
    parts = rows[0][8]
    if [row[7] for row in rows] != list(range(parts)):
        log.warning(
            "snapshot of %s at version %d: parts %s stored of %d; ignoring it",
            snapshot.stream,
            snapshot.version,
            [row[7] for row in rows],
            parts,
        )
        data = b""
    else:
        data = b"".join([row[9] for row in rows])
    return replace(snapshot, data=data)
