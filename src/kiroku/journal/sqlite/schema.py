"""The SQLite journal's tables, statements and row conversions.

Stored forms are chosen so the file stays readable with the ``sqlite3`` shell
and the read path stays cheap:

- ``data`` and ``metadata`` are JSON *text*, so ``json_extract`` works on them;
  reads select ``CAST(data AS BLOB)`` so SQLite hands back bytes directly
  instead of a ``str`` we would have to encode again.
- ``occurred_at`` is ISO-8601 text, always UTC with microseconds
  (``2026-01-02T03:04:05.000006+00:00``). Fixed width means text order is time
  order, so ``position_at`` compares strings; and ``datetime.fromisoformat`` is
  implemented in C, about three times cheaper per row than building a datetime
  from an integer of microseconds. There is deliberately no index on it: every
  append would pay for it, while ``position_at`` (a rare, operator-driven
  query) walks back from the newest event, which is quick for recent times.
- ``event_id`` is the canonical UUID text, readable and joinable by hand.
- A big snapshot's data is kept in ``snapshot_parts`` (its ``snapshots`` row
  then holds empty data), written a part per transaction (``snapshots``).
  Schema version 2 added that table; opening a version 1 file adds it.
- ``position`` is ``INTEGER PRIMARY KEY AUTOINCREMENT``: the writer assigns
  positions explicitly from ``sqlite_sequence``, which never goes backwards,
  so deleting the newest events (``delete_before``) can never make a position
  be used twice — a subscriber that saw position N must never see a different N.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeAlias, cast

import msgspec

from kiroku.domain.envelope import JSON, Folded, Metadata, NewEvent, StoredEvent
from kiroku.errors import InputError, JournalError, KirokuError, StorageUnavailableError
from kiroku.journal.protocol import Snapshot
from kiroku.schema.codec import decode_json, encode_json

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "EventRow",
    "convert_error",
    "encode_events",
    "encode_snapshot",
    "iso_utc",
    "to_folded",
    "to_snapshot",
    "to_stored",
    "uuid_text",
]

SCHEMA_VERSION = 2  # PRAGMA user_version; bump with a migration when the tables change

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream         TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    type           TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    data           TEXT    NOT NULL,
    event_id       TEXT    NOT NULL UNIQUE,
    occurred_at    TEXT    NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (stream, version)
);
CREATE TABLE IF NOT EXISTS streams (
    stream  TEXT PRIMARY KEY,
    version INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshots (
    stream        TEXT PRIMARY KEY,
    version       INTEGER NOT NULL,
    state_type    TEXT    NOT NULL,
    state_version INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    taken_at      TEXT    NOT NULL,
    metadata      TEXT    NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_parts (
    stream  TEXT    NOT NULL,
    version INTEGER NOT NULL,
    part    INTEGER NOT NULL,
    parts   INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (stream, version, part)
);
"""

FOLDED_COLUMNS = "position, version, type, schema_version, CAST(data AS BLOB)"
EVENT_COLUMNS = (
    "position, stream, version, type, schema_version, CAST(data AS BLOB), event_id,"
    " occurred_at, correlation_id, causation_id, metadata"
)

# What a caller's append becomes before it reaches the writer thread: every
# column except position, stream and version, which only the writer knows.
EventRow: TypeAlias = tuple[str, int, str, str, str, str | None, str | None, str]

_EMPTY_JSON = "{}"


_text = msgspec.json.Encoder()


def iso_utc(when: datetime) -> str:
    """The fixed-width UTC text form stored in ``occurred_at`` and ``taken_at``.

    msgspec writes the same text as ``isoformat(timespec="microseconds")``, with
    ``Z`` for ``+00:00``, several times faster (this runs for every appended
    event); it leaves out a zero fraction, which ``isoformat`` then writes.
    """
    if when.tzinfo is not UTC:
        when = when.astimezone(UTC)
    if when.microsecond:
        return _text.encode(when)[1:-2].decode() + "+00:00"
    return when.isoformat(timespec="microseconds")


def uuid_text(value: uuid.UUID) -> str:
    """``str(value)``, in C: the canonical form stored in ``event_id``."""
    return _text.encode(value)[1:-1].decode()


def _json_text(value: Metadata) -> str:
    return encode_json(value).decode() if value else _EMPTY_JSON


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as e:
        raise InputError(f"{what} must be UTF-8 JSON: {e}") from e


def encode_events(events: Sequence[NewEvent]) -> list[EventRow]:
    """Turn checked NewEvents into row values, on the caller's side, so an
    unstorable event fails its own append before anything reaches the writer."""
    try:
        return [
            (
                e.type,
                e.schema_version,
                e.data.decode(),
                uuid_text(e.event_id),
                iso_utc(e.occurred_at),
                e.correlation_id,
                e.causation_id,
                _json_text(e.metadata),
            )
            for e in events
        ]
    except UnicodeDecodeError:  # name the event only now: formatting its id costs a microsecond
        for e in events:
            _utf8(e.data, f"data of event {e.event_id}")
        raise


def _metadata(text: str) -> dict[str, JSON]:
    return {} if text == _EMPTY_JSON else cast(dict[str, JSON], decode_json(text))


_fromiso = datetime.fromisoformat
_ids = msgspec.json.Decoder(list[uuid.UUID])
_metadatas = msgspec.json.Decoder(list[dict[str, Any]])


def to_stored(rows: Sequence[Any]) -> list[StoredEvent]:
    """``SELECT {EVENT_COLUMNS}`` rows as StoredEvents: the hot loop of every read.

    The rows come straight from our own table, so their column types are known
    and no per-field casts are needed. What is dear per row is parsed for the
    whole batch at once, in C: the event ids (``uuid.UUID(text)`` is Python
    code, ~2 us each) and the metadata are joined into one JSON array each and
    decoded by a typed msgspec decoder. ``data`` stays the stored bytes, exactly.
    """
    if not rows:
        return []
    ids = _ids.decode('["' + '","'.join([row[6] for row in rows]) + '"]')
    metadatas = _metadatas.decode("[" + ",".join([row[10] for row in rows]) + "]")
    return [
        StoredEvent(
            pos, stream, version, type_, schema_version, data, id_, _fromiso(at), corr, cause, meta
        )
        for (
            pos,
            stream,
            version,
            type_,
            schema_version,
            data,
            _,
            at,
            corr,
            cause,
            _,
        ), id_, meta in zip(rows, ids, metadatas, strict=True)
    ]


_NO_METADATA: Metadata = {}


def to_folded(rows: Sequence[Any]) -> list[Folded]:
    """``SELECT {FOLDED_COLUMNS}`` rows, all with empty metadata, as Folded."""
    none = _NO_METADATA
    return [Folded(p, v, t, sv, d, none) for p, v, t, sv, d in rows]


def encode_snapshot(snapshot: Snapshot) -> tuple[str, int, str, int, str, str, str]:
    return (
        snapshot.stream,
        snapshot.version,
        snapshot.state_type,
        snapshot.state_version,
        _utf8(snapshot.data, f"snapshot data of {snapshot.stream}"),
        iso_utc(snapshot.taken_at),
        _json_text(snapshot.metadata),
    )


def to_snapshot(row: Any) -> Snapshot:
    stream, version, state_type, state_version, data, taken_at, meta = row
    return Snapshot(
        stream, version, state_type, state_version, data, _fromiso(taken_at), _metadata(meta)
    )


_STORAGE_CODES = ("SQLITE_FULL", "SQLITE_IOERR", "SQLITE_READONLY", "SQLITE_CANTOPEN")


def convert_error(e: sqlite3.Error, doing: str) -> KirokuError:
    """The one place sqlite3 exceptions become kiroku errors.

    The original is attached as ``__cause__`` here, not only by ``raise ... from
    e``, because writer errors travel to their caller through a future.
    """
    error: KirokuError
    code = getattr(e, "sqlite_errorname", type(e).__name__)
    if isinstance(e, sqlite3.IntegrityError):
        error = InputError(f"{doing}: {e}")
    elif code.startswith(_STORAGE_CODES):  # the storage refused: may clear, so retryable
        error = StorageUnavailableError(f"{doing} failed ({code}): {e}")
    else:
        error = JournalError(f"{doing} failed ({code}): {e}")
    error.__cause__ = e
    return error
