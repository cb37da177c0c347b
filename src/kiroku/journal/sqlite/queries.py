"""The SQLite journal's statements: write jobs (run by the writer thread inside a
savepoint) and read queries (run on a reader connection). Plain functions of a
connection, so each can be read next to its SQL."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime

from kiroku.domain.envelope import Folded, StoredEvent
from kiroku.errors import EventNotFoundError, InputError, KirokuError, WrongExpectedVersionError
from kiroku.journal.checks import check_expected_version
from kiroku.journal.protocol import ANY, NO_STREAM, AppendResult, ExpectedVersion, Snapshot
from kiroku.journal.sqlite.schema import (
    EVENT_COLUMNS,
    FOLDED_COLUMNS,
    EventRow,
    iso_utc,
    to_folded,
    to_stored,
)
from kiroku.journal.sqlite.snapshots import load as _load_snapshot
from kiroku.journal.sqlite.writer import AppendRequest, Tx
from kiroku.schema.codec import encode_json

__all__ = [
    "Append",
    "append",
    "append_many",
    "delete_before",
    "find_event",
    "get_event",
    "head_position",
    "load_snapshot",
    "position_at",
    "read_all",
    "read_stream",
    "recovery_read",
    "stream_version",
]

_MAX_VERSION = 2**62

_STREAM_VERSION = "SELECT version FROM streams WHERE stream = ?"
_STREAM_VERSIONS = (
    "SELECT stream, version FROM streams WHERE stream IN (SELECT value FROM json_each(?))"
)
_INSERT_EVENT = (
    "INSERT INTO events (position, stream, version, type, schema_version, data, event_id,"
    " occurred_at, correlation_id, causation_id, metadata) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)
_INSERT_ONE = (
    "INSERT INTO events (stream, version, type, schema_version, data, event_id,"
    " occurred_at, correlation_id, causation_id, metadata) VALUES (?,?,?,?,?,?,?,?,?,?)"
    " RETURNING position"
)
_SET_STREAM_VERSION = (
    "INSERT INTO streams (stream, version) VALUES (?, ?)"
    " ON CONFLICT (stream) DO UPDATE SET version = excluded.version"
)
_ADVANCE_STREAM = (
    "INSERT INTO streams (stream, version) VALUES (?, ?)"
    " ON CONFLICT (stream) DO UPDATE SET version = version + ? RETURNING version"
)
SYSTEM_PREFIX = "kiroku."  # corrections.events.SYSTEM_PREFIX (a test keeps them equal)
_NEEDS_WHOLE = (
    "SELECT 1 FROM events WHERE stream = ? AND version > ?"
    " AND (metadata != '{}' OR type LIKE ?) LIMIT 1"
)
_FOLDED = f"SELECT {FOLDED_COLUMNS} FROM events WHERE stream = ? AND version > ? ORDER BY version"

# -- writes (in the writer thread, inside the job's savepoint) ------------------


def append(
    stream: str, expected: ExpectedVersion, rows: Sequence[EventRow], tx: Tx
) -> AppendResult:
    """Move the stream's version first (one upsert that also reads it), then check
    it: a stale append is rolled back by its caller, savepoint or transaction.
    One event takes its position from AUTOINCREMENT, which counts on from
    ``sqlite_sequence`` as the writer does, so the head need not be read."""
    conn, n = tx.conn, len(rows)
    version: int = conn.execute(_ADVANCE_STREAM, (stream, n, n)).fetchone()[0]
    current = version - n
    check_expected_version(stream, expected, current)
    if n == 1:
        first = conn.execute(_INSERT_ONE, (stream, version, *rows[0])).fetchone()[0]
    else:
        first = tx.head + 1
        conn.executemany(
            _INSERT_EVENT,
            [(first + i, stream, current + 1 + i, *row) for i, row in enumerate(rows)],
        )
    tx.head = first + n - 1
    return AppendResult(stream, version, first, tx.head)


def append_many(requests: Sequence[AppendRequest], tx: Tx) -> list[object]:
    """Several appends at once, as if one after the other: each is checked against
    the version its stream has after the appends before it. A stale one is
    rejected and writes nothing; the rest are written by one INSERT and one
    upsert. A constraint violation raises, and the caller rolls everything back."""
    conn = tx.conn
    names = encode_json(list({r.stream for r in requests})).decode()
    versions: dict[str, int] = dict(conn.execute(_STREAM_VERSIONS, (names,)).fetchall())
    written: dict[str, int] = {}
    outcomes: list[object] = []
    inserts: list[tuple[object, ...]] = []
    head = tx.head
    for r in requests:  # the writer thread holds the GIL here: kept lean
        stream, expected, rows = r.stream, r.expected, r.rows
        current = versions.get(stream, 0)
        if (
            expected != current  # an int that matches: the common case, one comparison
            and expected is not ANY
            and not (expected is NO_STREAM and current == 0)
        ):
            outcomes.append(WrongExpectedVersionError(stream, expected, current))
            continue
        first, n = head + 1, len(rows)
        if n == 1:
            inserts.append((first, stream, current + 1, *rows[0]))
        else:
            inserts += [(first + i, stream, current + 1 + i, *row) for i, row in enumerate(rows)]
        head += n
        versions[stream] = written[stream] = current + n
        outcomes.append(AppendResult(stream, current + n, first, head))
    conn.executemany(_INSERT_EVENT, inserts)
    conn.executemany(_SET_STREAM_VERSION, written.items())
    tx.head = head
    return outcomes


class Append(AppendRequest, frozen=True, gc=False):
    """An append job: the request itself is what the writer runs, so queueing one
    builds no closures (one is queued per append)."""

    def __call__(self, tx: Tx) -> AppendResult:
        return append(self.stream, self.expected, self.rows, tx)

    def explain(self, conn: sqlite3.Connection, e: sqlite3.IntegrityError) -> KirokuError:
        """Name the event id that broke the UNIQUE constraint (run after the rollback)."""
        ids = encode_json([row[3] for row in self.rows]).decode()
        found = conn.execute(
            "SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?))", (ids,)
        ).fetchone()
        if found is not None:
            return InputError(f"event_id {found[0]} is already in the journal")
        return super().explain(conn, e)


def delete_before(stream: str, version: int, tx: Tx) -> int:
    cursor = tx.conn.execute(
        "DELETE FROM events WHERE stream = ? AND version < ?", (stream, version)
    )
    return cursor.rowcount


# -- reads (on a reader connection) ---------------------------------------------


def read_stream(
    stream: str, lo: int, hi: int | None, conn: sqlite3.Connection
) -> list[StoredEvent]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events"
        " WHERE stream = ? AND version BETWEEN ? AND ? ORDER BY version",
        (stream, lo, _MAX_VERSION if hi is None else hi),
    ).fetchall()
    return to_stored(rows)


def read_all(after: int, limit: int, conn: sqlite3.Connection) -> list[StoredEvent]:
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?",
        (after, limit),
    ).fetchall()
    return to_stored(rows)


def head_position(conn: sqlite3.Connection) -> int:
    found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
    return found[0] if found else 0


def stream_version(stream: str, conn: sqlite3.Connection) -> int:
    found = conn.execute(_STREAM_VERSION, (stream,)).fetchone()
    return found[0] if found else 0


def get_event(position: int, conn: sqlite3.Connection) -> StoredEvent:
    row = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE position = ?", (position,)
    ).fetchone()
    if row is None:
        raise EventNotFoundError(position)
    return to_stored([row])[0]


def find_event(event_id: uuid.UUID, conn: sqlite3.Connection) -> StoredEvent:
    row = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?", (str(event_id),)
    ).fetchone()
    if row is None:
        raise EventNotFoundError(str(event_id))
    return to_stored([row])[0]


def position_at(when: datetime, conn: sqlite3.Connection) -> int:
    found = conn.execute(
        "SELECT MAX(position) FROM events WHERE occurred_at <= ?", (iso_utc(when),)
    ).fetchone()
    return found[0] or 0


def recovery_read(
    stream: str, conn: sqlite3.Connection
) -> tuple[Snapshot | None, int, list[StoredEvent], list[Folded]]:
    """The snapshot, the version, and the events after the snapshot: as Folded rows
    (five columns, nothing to parse) unless one of them has metadata or is a
    system event, which recovery needs whole."""
    snapshot = load_snapshot(stream, conn)
    base = 0 if snapshot is None else snapshot.version
    version = stream_version(stream, conn)
    if version <= base:
        return snapshot, version, [], []
    if conn.execute(_NEEDS_WHOLE, (stream, base, SYSTEM_PREFIX + "%")).fetchone() is not None:
        return snapshot, version, read_stream(stream, base + 1, None, conn), []
    rows = conn.execute(_FOLDED, (stream, base)).fetchall()
    return snapshot, version, [], to_folded(rows)


def load_snapshot(stream: str, conn: sqlite3.Connection) -> Snapshot | None:
    return _load_snapshot(stream, conn)
