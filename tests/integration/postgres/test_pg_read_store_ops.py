"""PostgreSQL read stores in operation: a rebuild fills the next generation's schema
while readers keep answering from the serving one and swaps in one statement; a
lost connection is a ReadStoreError (a 503 to readers), and the runner retries and
connects again without losing or repeating an event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest
from kits.domain import Boards, Noted, Opened, append
from kits.hosts import new_host
from pgkit import dsn_fixture

from kiroku import MemoryJournal, ProjectionHost
from kiroku.errors import ReadStoreError
from kiroku.projections.postgres import PostgresReadStores, schema_name

pytestmark = pytest.mark.postgres
__all__ = ["dsn_fixture"]


@pytest.fixture
async def journal() -> MemoryJournal:
    return MemoryJournal()


@pytest.fixture
async def host(dsn: str, tmp_path: Path, journal: MemoryJournal) -> AsyncIterator[ProjectionHost]:
    for i in range(300):
        await append(journal, f"board-{i}", Opened(f"t{i}"))
    made = new_host(
        journal, Boards(), data=tmp_path, batch_size=20, catalog=PostgresReadStores(dsn)
    )
    await made.start()
    await made.wait_for(300)
    yield made
    await made.close()


async def _schemas(dsn: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kiroku_rs_test%' ORDER BY 1"
        )
        return [str(r[0]) for r in await cur.fetchall()]


async def test_rebuild_fills_a_shadow_schema_and_swaps_with_no_window_in_which_reads_fail(
    host: ProjectionHost, dsn: str, journal: MemoryJournal
) -> None:
    seen: list[int] = []
    done = asyncio.Event()

    async def keep_reading() -> None:
        while not done.is_set():
            seen.append(await host.reader("test.boards").collection("boards").count())
            await asyncio.sleep(0)

    reading = asyncio.create_task(keep_reading())
    writer = asyncio.create_task(append(journal, "board-new", Opened("during")))
    await host.rebuild("test.boards")
    await writer
    position = await append(journal, "board-after", Opened("after"))
    await host.wait_for(position)
    done.set()
    await reading
    assert min(seen) >= 300  # never an empty or partial generation
    assert len(seen) > 5
    assert await host.reader("test.boards").collection("boards").count() == 302
    assert host.stores.generation("test.boards") == 2
    g1, g2 = schema_name("test.boards", 1), schema_name("test.boards", 2)
    assert host.runner("test.boards").store.location == f"postgresql:{g2}"
    assert await _schemas(dsn) == [g1, g2]  # the old one stays for readers still on it
    await host.rebuild("test.boards")
    assert await _schemas(dsn) == [g2, schema_name("test.boards", 3)]


async def test_a_lost_connection_is_retried_and_nothing_is_lost_or_repeated(
    host: ProjectionHost, dsn: str, journal: MemoryJournal
) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    position = 0
    for i in range(5):
        position = await append(journal, "board-0", Noted(f"n{i}", 1))
    await host.wait_for(position, timeout=30)
    runner = host.runner("test.boards")
    assert runner.storage_failures >= 1  # it met the cut, retried, connected again
    boards = host.reader("test.boards").collection("boards")
    for _ in range(2):  # a pooled reader connection may have been cut: one 503, then served
        try:
            doc = await boards.get("0")
            break
        except ReadStoreError:
            continue
    assert doc is not None
    assert doc["notes"] == [f"n{i}" for i in range(5)]
    assert doc["total"] == 5
