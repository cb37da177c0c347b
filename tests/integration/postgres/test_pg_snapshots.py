"""Big snapshots in the PostgreSQL journal: written in parts, one transaction
each, made the snapshot by one last statement (journal/postgres/snapshots.py).

The tests that need a save stopped between two parts hold the key of a later
part in an open transaction on a raw connection: the journal's insert of that
part waits for it, so the save stands still after the parts before it, for as
long as the test likes, with no timing involved.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from pgkit import (
    TcpProxy,
    dsn_fixture,  # noqa: F401 - fixtures
    events,
    journal_fixture,  # noqa: F401 - fixtures
    raw_connection,
)

from kiroku.errors import StorageUnavailableError
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.postgres.snapshots import PART_SIZE
from kiroku.journal.protocol import Snapshot

pytestmark = pytest.mark.postgres

PATIENCE = 15.0  # a bound on waiting, never a measured time


def big(stream: str, version: int, size: int) -> Snapshot:
    """``size`` bytes, the same for the same arguments, different in every part."""
    data = random.Random(f"{stream}/{version}").randbytes(size)
    taken = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Snapshot(stream, version, "RoomState", 2, data, taken, {"v": version, "k": ["a"]})


async def parts_of(conn: psycopg.AsyncConnection[Any], stream: str) -> list[tuple[int, int, int]]:
    cur = await conn.execute(
        "SELECT version, part, parts FROM snapshot_parts WHERE stream = %s ORDER BY version, part",
        (stream,),
    )
    return [(int(v), int(p), int(n)) for v, p, n in await cur.fetchall()]


async def stored_parts(conn: psycopg.AsyncConnection[Any], stream: str, version: int) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM snapshot_parts WHERE stream = %s AND version = %s", (stream, version)
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def until_stored(
    conn: psycopg.AsyncConnection[Any], stream: str, version: int, parts: int
) -> None:
    async with asyncio.timeout(PATIENCE):
        while await stored_parts(conn, stream, version) < parts:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.01)


@pytest.fixture
async def raw(dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await raw_connection(dsn)
    yield conn
    await conn.close()


async def hold_part(
    dsn: str, stream: str, version: int, part: int, parts: int
) -> psycopg.AsyncConnection[Any]:
    """A connection whose open transaction holds the key of that part: the journal's
    insert of it waits until the transaction ends (roll it back to let it go on)."""
    conn = await raw_connection(dsn)
    await conn.execute("BEGIN")
    await conn.execute(
        "INSERT INTO snapshot_parts (stream, version, part, parts, data) VALUES (%s,%s,%s,%s,'')",
        (stream, version, part, parts),
    )
    return conn


@pytest.mark.parametrize(
    "size", [0, 10, PART_SIZE - 1, PART_SIZE, PART_SIZE + 1, 3 * PART_SIZE + 17]
)
async def test_load_equals_save(
    journal: PostgreSQLJournal, raw: psycopg.AsyncConnection[Any], size: int
) -> None:
    saved = big("room-1", 5, size)
    await journal.save_snapshot(saved)
    assert await journal.load_snapshot("room-1") == saved
    expected = 0 if size <= PART_SIZE else -(-size // PART_SIZE)
    assert len(await parts_of(raw, "room-1")) == expected  # small ones stay one row


async def test_replacing_a_big_snapshot_deletes_its_parts(
    journal: PostgreSQLJournal, raw: psycopg.AsyncConnection[Any]
) -> None:
    await journal.save_snapshot(big("room-1", 3, 3 * PART_SIZE))
    await journal.save_snapshot(big("room-2", 3, 2 * PART_SIZE))  # another stream's stay
    later = big("room-1", 9, PART_SIZE + 5)
    await journal.save_snapshot(later)
    assert await parts_of(raw, "room-1") == [(9, 0, 2), (9, 1, 2)]
    assert await journal.load_snapshot("room-1") == later
    small = big("room-1", 12, 100)
    await journal.save_snapshot(small)
    assert await parts_of(raw, "room-1") == []
    assert await journal.load_snapshot("room-1") == small
    assert len(await parts_of(raw, "room-2")) == 2
    assert await journal.load_snapshot("room-2") == big("room-2", 3, 2 * PART_SIZE)


async def test_appends_commit_between_parts_while_a_big_snapshot_is_saved(
    dsn: str, journal: PostgreSQLJournal, raw: psycopg.AsyncConnection[Any]
) -> None:
    previous, saved = big("room-big", 1, 10), big("room-big", 2, 6 * PART_SIZE)
    await journal.save_snapshot(previous)
    holder = await hold_part(dsn, "room-big", 2, 3, 6)
    order: list[str] = []
    saving = asyncio.create_task(journal.save_snapshot(saved))
    saving.add_done_callback(lambda _: order.append("snapshot saved"))
    try:
        await until_stored(raw, "room-big", 2, 3)  # parts 0-2; part 3 waits for the holder
        order.append("parts 0-2 stored")
        for i in range(20):
            await asyncio.wait_for(journal.append("room-small", i, events(1)), PATIENCE)
            order.append(f"append {i + 1} committed")
        assert await journal.load_snapshot("room-big") == previous  # not half-replaced
        order.append("previous snapshot loaded")
        assert not saving.done()
    finally:
        await holder.execute("ROLLBACK")
        await holder.close()
    await asyncio.wait_for(saving, PATIENCE)
    assert order == [
        "parts 0-2 stored",
        *(f"append {i + 1} committed" for i in range(20)),
        "previous snapshot loaded",
        "snapshot saved",
    ]
    assert await journal.load_snapshot("room-big") == saved
    assert await journal.stream_version("room-small") == 20
    assert [p for _, p, _ in await parts_of(raw, "room-big")] == list(range(6))


async def test_a_connection_cut_between_parts_leaves_the_previous_snapshot(
    dsn: str, raw: psycopg.AsyncConnection[Any]
) -> None:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    proxy = TcpProxy(str(params["host"]), int(str(params["port"])))
    await proxy.start()
    via_proxy = psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=proxy.port)
    previous = big("room-1", 4, 2 * PART_SIZE + 3)
    journal = await PostgreSQLJournal.open(via_proxy, connect_timeout=2)
    try:
        await journal.save_snapshot(previous)
        holder = await hold_part(dsn, "room-1", 8, 2, 5)
        try:
            saving = asyncio.create_task(journal.save_snapshot(big("room-1", 8, 5 * PART_SIZE)))
            await until_stored(raw, "room-1", 8, 2)
            await proxy.cut()
            with pytest.raises(StorageUnavailableError):
                await asyncio.wait_for(saving, PATIENCE)
        finally:
            await holder.execute("ROLLBACK")
            await holder.close()
    finally:
        await journal.close()
        await proxy.cut()
    left = [(v, p) for v, p, _ in await parts_of(raw, "room-1")]
    assert left[:5] == [(4, 0), (4, 1), (4, 2), (8, 0), (8, 1)]
    assert len(left) <= 6  # the held part may have gone in as the connection dropped
    async with await PostgreSQLJournal.open(dsn) as again:
        assert await again.load_snapshot("room-1") == previous
        later = big("room-1", 9, PART_SIZE + 1)
        await again.save_snapshot(later)  # the cut save's parts and the replaced ones go
        assert await parts_of(raw, "room-1") == [(9, 0, 2), (9, 1, 2)]
        assert await again.load_snapshot("room-1") == later


async def test_a_snapshot_missing_a_part_loads_without_data(
    journal: PostgreSQLJournal, raw: psycopg.AsyncConnection[Any], caplog: Any
) -> None:
    """Not something the journal writes: recovery then folds the events instead."""
    saved = big("room-1", 3, 3 * PART_SIZE)
    await journal.save_snapshot(saved)
    await raw.execute("DELETE FROM snapshot_parts WHERE stream = 'room-1' AND part = 1")
    with caplog.at_level(logging.WARNING, logger="kiroku.journal.postgres.snapshots"):
        loaded = await journal.load_snapshot("room-1")
    assert loaded is not None
    assert (loaded.version, loaded.data) == (3, b"")
    assert "parts [0, 2] stored of 3" in caplog.text


async def test_a_save_redone_at_the_same_version_deletes_the_cut_one_s_extra_parts(
    journal: PostgreSQLJournal, raw: psycopg.AsyncConnection[Any]
) -> None:
    await raw.execute(  # the last part of a 4-part save of version 5 that was cut short
        "INSERT INTO snapshot_parts (stream, version, part, parts, data) VALUES (%s,%s,%s,%s,'')",
        ("room-1", 5, 3, 4),
    )
    saved = big("room-1", 5, 3 * PART_SIZE)
    await journal.save_snapshot(saved)
    assert await parts_of(raw, "room-1") == [(5, 0, 3), (5, 1, 3), (5, 2, 3)]
    assert await journal.load_snapshot("room-1") == saved
