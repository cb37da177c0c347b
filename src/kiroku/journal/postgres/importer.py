"""Moving a journal onto PostgreSQL as it is: same positions, streams, versions,
event ids, times and metadata, so read models, checkpoints and ledgers built on
the old journal stay valid on the new one.

The events go in with COPY in one transaction, so a copy that fails leaves the
target as it was. ``fingerprint`` reads a journal in order and sums up every
stored field, so the source and the copy can be compared.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from kiroku.domain.envelope import StoredEvent
from kiroku.errors import InputError
from kiroku.journal.postgres.snapshots import SAVE_PART, SAVE_ROW, part_rows, snapshot_row
from kiroku.journal.protocol import Journal
from kiroku.schema.codec import encode_json

__all__ = ["Fingerprint", "copy_into", "fingerprint"]


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """How many events a journal holds, their last position and a SHA-256 of them all."""

    events: int
    head: int
    sha256: str


def _digest_event(h: Any, e: StoredEvent) -> None:
    fields = (
        e.position, e.stream, e.version, e.type, e.schema_version, e.event_id.hex,
        e.occurred_at.timestamp().hex(), e.correlation_id, e.causation_id,
    )  # fmt: skip
    h.update(encode_json(fields))
    h.update(e.data)
    h.update(encode_json(dict(sorted(e.metadata.items()))))


async def fingerprint(journal: Journal, batch: int = 5000) -> Fingerprint:
    h = hashlib.sha256()
    count = after = 0
    while events := await journal.read_all(after, batch):
        for e in events:
            _digest_event(h, e)
        count += len(events)
        after = events[-1].position
    return Fingerprint(count, await journal.head_position(), h.hexdigest())


_COPY = (
    "COPY events (position, stream, version, type, schema_version, data, event_id,"
    " occurred_at, correlation_id, causation_id, metadata) FROM STDIN"
)


async def copy_into(
    source: Journal, conn: psycopg.AsyncConnection[Any], schema: str, batch: int = 5000
) -> int:
    """Copy every event, stream version and snapshot of ``source`` into the empty
    journal in ``schema`` (already migrated); return how many events."""
    versions: dict[str, int] = {}
    copied = 0
    async with conn.transaction():
        await conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        cur = await conn.execute("SELECT head_position()")
        row = await cur.fetchone()
        if row is None or row[0] != 0:
            raise InputError(f"the target journal (schema {schema}) is not empty")
        after = 0
        async with conn.cursor().copy(_COPY) as copy:
            while events := await source.read_all(after, batch):
                for e in events:
                    await copy.write_row(_row(e))
                    versions[e.stream] = e.version
                copied += len(events)
                after = events[-1].position
        for stream in versions:
            versions[stream] = await source.stream_version(stream)
        await _copy_streams(conn, versions)
        await _copy_snapshots(source, conn, list(versions))
        await _copy_head(conn, await source.head_position(), after)
    return copied


def _row(e: StoredEvent) -> tuple[object, ...]:
    return (
        e.position, e.stream, e.version, e.type, e.schema_version, e.data.decode(),
        e.event_id, e.occurred_at, e.correlation_id, e.causation_id,
        encode_json(dict(e.metadata)).decode(),
    )  # fmt: skip


async def _copy_streams(conn: psycopg.AsyncConnection[Any], versions: dict[str, int]) -> None:
    await conn.execute(
        "INSERT INTO streams (stream, version, tx)"
        " SELECT s, v, pg_current_xact_id() FROM unnest(%s::text[], %s::bigint[]) AS u(s, v)",
        (list(versions), list(versions.values())),
    )


async def _copy_snapshots(
    source: Journal, conn: psycopg.AsyncConnection[Any], streams: list[str]
) -> None:
    """Each snapshot as the journal would store it: a big one in parts (all in the
    copy's one transaction, since no append can arrive before it commits)."""
    for stream in streams:
        s = await source.load_snapshot(stream)
        if s is None:
            continue
        parts = part_rows(s)
        if parts:
            async with conn.cursor() as cur:
                await cur.executemany(SAVE_PART, parts)
        await conn.execute(SAVE_ROW, snapshot_row(s, len(parts)))


async def _copy_head(conn: psycopg.AsyncConnection[Any], head: int, last: int) -> None:
    """Positions continue after the source's head, even if its newest events were deleted."""
    if head > last:
        await conn.execute(
            "INSERT INTO deleted_events (position, tx) VALUES (%s, pg_current_xact_id())", (head,)
        )
    if head > 0:
        await conn.execute("SELECT setval('events_position', %s)", (head,))
