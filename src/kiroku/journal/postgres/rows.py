"""Row conversions for the PostgreSQL journal: what an append sends, what a read gets.

``data`` is stored as ``json`` (the exact text, checked by the server, readable
with ``->>``) and comes back as the bytes that were appended; ``metadata`` is
``jsonb``. Both are loaded by msgspec rather than psycopg's default ``json``
module: reads build one envelope per event, and this is their hot loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg.adapt import Loader

from kiroku.domain.envelope import NewEvent, StoredEvent
from kiroku.errors import InputError
from kiroku.journal.protocol import ANY, NO_STREAM, ExpectedVersion, Snapshot
from kiroku.schema.codec import encode_json

__all__ = [
    "EVENT_COLUMNS",
    "SNAPSHOT_COLUMNS",
    "Append",
    "Cursor",
    "expected_number",
    "register_loaders",
    "to_snapshot",
    "to_stored",
]

EVENT_COLUMNS = (
    "position, stream, version, type, schema_version, data, event_id, occurred_at,"
    " correlation_id, causation_id, metadata"
)
SNAPSHOT_COLUMNS = "stream, version, state_type, state_version, data, taken_at, metadata"

_metadata = msgspec.json.Decoder(dict[str, Any])

Cursor = tuple[str, int]
"""A reader's place: (transaction id as text, position)."""

START: Cursor = ("0", 0)


class _BytesLoader(Loader):
    """``json`` as the stored bytes: an event's data is handed on, never parsed here."""

    def load(self, data: Any) -> bytes:
        return bytes(data)


class _MetadataLoader(Loader):
    def load(self, data: Any) -> dict[str, Any]:
        return _metadata.decode(data)


def register_loaders(conn: AsyncConnection[Any]) -> None:
    conn.adapters.register_loader("json", _BytesLoader)
    conn.adapters.register_loader("jsonb", _MetadataLoader)


def expected_number(expected: ExpectedVersion) -> int:
    """The expected version as the SQL functions take it: -1 for ANY."""
    if expected is ANY:
        return -1
    if expected is NO_STREAM:
        return 0
    assert isinstance(expected, int)
    return expected


@dataclass(frozen=True, slots=True)
class Append:
    """One caller's append, encoded on the caller's side so a bad event fails alone."""

    stream: str
    expected: ExpectedVersion
    types: list[str]
    schema_versions: list[int]
    data: list[str]
    event_ids: list[uuid.UUID]
    occurred_at: list[datetime]
    correlation_ids: list[str | None]
    causation_ids: list[str | None]
    metadata: list[str]

    @classmethod
    def of(cls, stream: str, expected: ExpectedVersion, events: Sequence[NewEvent]) -> Append:
        try:
            data = [e.data.decode() for e in events]
        except UnicodeDecodeError as e:
            raise InputError(f"stream {stream}: event data must be UTF-8 JSON: {e}") from e
        if any("\x00" in d for d in data):
            raise InputError(f"stream {stream}: event data holds a NUL character")
        return cls(
            stream,
            expected,
            [e.type for e in events],
            [e.schema_version for e in events],
            data,
            [e.event_id for e in events],
            [e.occurred_at for e in events],
            [e.correlation_id for e in events],
            [e.causation_id for e in events],
            [encode_json(e.metadata).decode() if e.metadata else "{}" for e in events],
        )


def to_stored(rows: Sequence[Any]) -> list[StoredEvent]:
    """``SELECT {EVENT_COLUMNS}`` rows (extra columns after them are ignored)."""
    return [StoredEvent(*row[:11]) for row in rows]


def to_snapshot(row: Any) -> Snapshot:
    stream, version, state_type, state_version, data, taken_at, meta = row
    return Snapshot(stream, version, state_type, state_version, bytes(data), taken_at, meta)
