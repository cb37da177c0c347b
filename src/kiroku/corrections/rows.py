"""The hold store's tables and how an event becomes a row and back.

Times are integer microseconds since the epoch, so that SQL comparisons
(``release_at <= now``) are exact.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from kiroku.domain.envelope import StoredEvent

__all__ = ["COLUMNS", "SCHEMA", "event_of", "row_of", "time_of", "us_of"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SCHEMA = """
CREATE TABLE IF NOT EXISTS held_events (
    consumer TEXT NOT NULL, position INTEGER NOT NULL, stream TEXT NOT NULL,
    version INTEGER NOT NULL, type TEXT NOT NULL, schema_version INTEGER NOT NULL,
    data BLOB NOT NULL, event_id TEXT NOT NULL, occurred_at INTEGER NOT NULL,
    correlation_id TEXT, causation_id TEXT, metadata TEXT NOT NULL,
    release_at INTEGER NOT NULL, status TEXT NOT NULL DEFAULT 'held', settled_at INTEGER,
    PRIMARY KEY (consumer, position)
);
CREATE INDEX IF NOT EXISTS held_due ON held_events (consumer, status, release_at);
CREATE INDEX IF NOT EXISTS held_by_position ON held_events (position);
CREATE TABLE IF NOT EXISTS hold_checkpoints (consumer TEXT PRIMARY KEY, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS compensations (
    consumer TEXT NOT NULL, retracted_position INTEGER NOT NULL,
    retraction_position INTEGER NOT NULL, done_at INTEGER,
    PRIMARY KEY (consumer, retracted_position)
);
"""
COLUMNS = (
    "position, stream, version, type, schema_version, data, event_id, occurred_at, "
    "correlation_id, causation_id, metadata"
)


def us_of(when: datetime) -> int:
    return (when - _EPOCH) // timedelta(microseconds=1)


def time_of(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def row_of(e: StoredEvent) -> tuple[object, ...]:
    return (
        e.position,
        e.stream,
        e.version,
        e.type,
        e.schema_version,
        e.data,
        str(e.event_id),
        us_of(e.occurred_at),
        e.correlation_id,
        e.causation_id,
        json.dumps(dict(e.metadata)),
    )


def event_of(r: Sequence[Any]) -> StoredEvent:
    pos, stream, ver, typ, sv, data, eid, occ, corr, caus, meta = r
    return StoredEvent(
        position=int(pos),
        stream=str(stream),
        version=int(ver),
        type=str(typ),
        schema_version=int(sv),
        data=bytes(data),
        event_id=uuid.UUID(str(eid)),
        occurred_at=time_of(int(occ)),
        correlation_id=None if corr is None else str(corr),
        causation_id=None if caus is None else str(caus),
        metadata=json.loads(meta),
    )
