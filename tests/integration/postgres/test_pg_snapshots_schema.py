"""Snapshot parts and the rest of the PostgreSQL journal's life: a database
migrated before parts existed keeps its snapshots, and ``kiroku journal copy``
(``copy_into``) carries big snapshots over, from SQLite and from PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from pgkit import (
    dsn_fixture,  # noqa: F401 - fixtures
    events,
    raw_connection,
)

from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.postgres import migrate as migrations
from kiroku.journal.postgres.importer import copy_into
from kiroku.journal.postgres.snapshots import PART_SIZE
from kiroku.journal.protocol import Snapshot
from kiroku.journal.sqlite import SQLiteJournal

pytestmark = pytest.mark.postgres

TAKEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def text_snapshot(stream: str, version: int, size: int) -> Snapshot:
    """JSON-like ASCII (the SQLite journal stores snapshot data as text)."""
    rng = random.Random(f"{stream}/{version}")
    data = ('{"x":"' + "".join(rng.choices("abcdefgh", k=size)) + '"}').encode()
    return Snapshot(stream, version, "RoomState", 3, data, TAKEN, {"keys": ["k1"]})


async def test_migrating_a_database_that_has_snapshots_keeps_them(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Snapshot("room-1", 7, "RoomState", 1, b'{"n":7}', TAKEN, {"a": 1})
    with monkeypatch.context() as m:  # the schema as it was before parts (migration 3)
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:3])
        async with await PostgreSQLJournal.open(dsn) as journal:
            await journal.append("room-1", 0, events(7))
            async with await raw_connection(dsn) as conn:
                await conn.execute(
                    "INSERT INTO snapshots (stream, version, state_type, state_version, data,"
                    " taken_at, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb)",
                    (old.stream, old.version, old.state_type, 1, old.data, TAKEN, '{"a": 1}'),
                )
                assert await migrations.applied_versions(conn, "kiroku") == [1, 2, 3]
    async with await PostgreSQLJournal.open(dsn) as journal:  # applies migration 4
        assert await journal.load_snapshot("room-1") == old
        async with await raw_connection(dsn) as conn:
            assert await migrations.migrate(conn, "kiroku") == []  # idempotent
            assert await migrations.applied_versions(conn, "kiroku") == [1, 2, 3, 4]
        bigger = text_snapshot("room-1", 7, 2 * PART_SIZE)
        await journal.save_snapshot(bigger)
        assert await journal.load_snapshot("room-1") == bigger


async def test_copy_carries_big_snapshots_from_sqlite_and_from_postgresql(
    dsn: str, tmp_path: Path
) -> None:
    big, small = text_snapshot("room-1", 3, 3 * PART_SIZE), text_snapshot("room-2", 2, 50)
    async with await SQLiteJournal.open(tmp_path / "journal.db") as source:
        await source.append("room-1", 0, events(3))
        await source.append("room-2", 0, events(2))
        await source.save_snapshot(big)
        await source.save_snapshot(small)
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            async with await PostgreSQLJournal.open(dsn):  # migrates the target schema
                pass
            assert await copy_into(source, conn, "kiroku") == 5
    async with await PostgreSQLJournal.open(dsn) as copied:
        assert await copied.load_snapshot("room-1") == big
        assert await copied.load_snapshot("room-2") == small
        async with await raw_connection(dsn) as raw:
            cur = await raw.execute("SELECT stream, count(*) FROM snapshot_parts GROUP BY stream")
            assert await cur.fetchall() == [("room-1", 4)]  # 3 MiB and the JSON around it
        async with await PostgreSQLJournal.open(dsn, schema="again") as again:
            async with await psycopg.AsyncConnection.connect(dsn) as conn:
                assert await copy_into(copied, conn, "again") == 5
            assert await again.load_snapshot("room-1") == big
            assert await again.load_snapshot("room-2") == small
