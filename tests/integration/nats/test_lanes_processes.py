"""Two projector processes sharing a projection's partitions (lanes) over NATS, into
one PostgreSQL read store, for a projection whose documents are *not* partition-local:
every event rewrites one shared document, with a pause between its read and its
write. The lanes must take turns on the store (``Lane.begin``): otherwise two
transactions read the same count and one update is lost. Both processes are real,
their transactions truly concurrent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import nats_kit
import psycopg
import pytest
from bus_kit import load_notes, nats_bus, options, spawn_ready

from kiroku.bus.relay import Relay
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections.postgres import schema_name
from kiroku.testing.postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.nats]
HERE = Path(__file__).parent
EVENTS = 240
nats_url = nats_kit.nats_url


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    async with fresh_database() as made:
        yield made


def tally(dsn: str) -> tuple[int, int]:
    """The shared count, and the lowest lane's position (the projection's checkpoint)."""
    schema = schema_name("bus.tally", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(f"SELECT doc FROM \"{schema}\".doc_tally WHERE id = 'all'").fetchone()
        at = conn.execute(f'SELECT position FROM "{schema}".kiroku_checkpoint').fetchone()
    count = int(row[0]["n"]) if row else 0
    return count, int(at[0]) if at else 0


async def test_two_lane_processes_never_lose_an_update_of_a_shared_document(
    nats_url: str, dsn: str, tmp_path: Path
) -> None:
    opts = options()
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path) as journal:
        common = [str(path), dsn]
        bus_args = [nats_url, opts.stream, opts.prefix]
        lanes = []
        try:
            for i, parts in enumerate(("0-7", "8-15")):
                data = str(tmp_path / f"lane{i}")
                lanes.append(
                    await asyncio.to_thread(
                        spawn_ready, "lane_proc.py", [*common, data, *bus_args, parts]
                    )
                )
            async with nats_bus(nats_url, opts) as bus, Relay(journal, bus) as relay:
                head = await load_notes(journal, EVENTS, streams=24)
                await relay.wait_for(head)
                async with asyncio.timeout(60):
                    while (seen := await asyncio.to_thread(tally, dsn))[1] < head:  # noqa: ASYNC110 - a state in another process
                        await asyncio.sleep(0.1)
        finally:
            for proc in lanes:
                proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()
    assert seen[0] == EVENTS  # every event counted once: no update lost between the lanes
