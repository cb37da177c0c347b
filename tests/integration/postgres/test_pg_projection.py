"""A projection host follows the PostgreSQL journal while two write processes
append to the same streams and a slow transaction commits out of position
order: the read model counts every event once, survives a restart from its
checkpoint, and equals a rebuild."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from kits.hosts import hosted
from pgkit import append_in, dsn_fixture, raw_connection  # noqa: F401 - fixtures

from kiroku import Recorded, Registry, event
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import ANY
from kiroku.projections import Projection, ProjectionHost, Tx, handles
from kiroku.schema.codec import Codec

pytestmark = pytest.mark.postgres

REGISTRY = Registry()


@event("test.Happened", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Happened:
    n: int = 0
    raw: int = -1


class Tally(Projection):
    name = "pg.tally"

    @handles(Happened)
    async def happened(self, tx: Tx, e: Recorded[Happened]) -> None:
        docs = tx.collection("streams")
        doc = await docs.get(e.stream) or {"events": 0, "version": 0}
        assert doc["version"] == e.version - 1, (e.stream, e.version, doc)
        await docs.put(e.stream, {"events": int(str(doc["events"])) + 1, "version": e.version})


CODEC = Codec(REGISTRY)


async def _write(journals: list[PostgreSQLJournal], dsn: str, appends: int) -> int:
    rng = random.Random(5)

    async def writer(journal: PostgreSQLJournal) -> None:
        for i in range(appends):
            await journal.append(f"room-{rng.randrange(4)}", ANY, [CODEC.encode(Happened(i))])

    async def slow() -> None:
        conn = await raw_connection(dsn)
        async with conn.transaction():
            await append_in(conn, "slow-1", 2)  # takes low positions, commits last
            await asyncio.sleep(0.5)
        await conn.close()

    await asyncio.gather(slow(), *(writer(j) for j in journals for _ in range(3)))
    return 2 + appends * 3 * len(journals)


async def _counted(host: ProjectionHost) -> int:
    docs = await host.reader("pg.tally").collection("streams").query()
    return sum(int(str(d["events"])) for d in docs)


async def _until_counted(host: ProjectionHost, total: int) -> None:
    deadline = time.monotonic() + 20
    while await _counted(host) < total:
        assert time.monotonic() < deadline, f"{await _counted(host)} of {total} events counted"
        await asyncio.sleep(0.05)


async def test_a_projection_on_postgres_counts_every_event_once(dsn: str, tmp_path: Path) -> None:
    reading = await PostgreSQLJournal.open(dsn, poll_interval=0.5)
    writers = [await PostgreSQLJournal.open(dsn, writers=3) for _ in range(2)]
    try:
        async with hosted(reading, Tally(), data=tmp_path, codec=CODEC) as host:
            total = await _write(writers, dsn, 15)
            await _until_counted(host, total)

        async with hosted(reading, Tally(), data=tmp_path, codec=CODEC) as again:
            total += await _write(writers, dsn, 5)
            await _until_counted(again, total)
            await asyncio.sleep(0.6)
            assert await _counted(again) == total
            live = await again.reader("pg.tally").collection("streams").query(order_by="id")
            await again.rebuild("pg.tally")
            rebuilt = await again.reader("pg.tally").collection("streams").query(order_by="id")
            assert rebuilt == live
    finally:
        for j in (reading, *writers):
            await j.close()
