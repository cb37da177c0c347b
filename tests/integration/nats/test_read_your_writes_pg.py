"""Read-your-writes with several writers on PostgreSQL, for journal-fed and bus-fed runners.

Readers deliver in ``(tx, position)`` order. A writer whose transaction took its
id first but numbers its event later (position 2, tx 100) is delivered before
an event another writer committed meanwhile (position 1, tx 101). A runner
that has committed position 2 has therefore not necessarily processed position
1: ``wait_for(1)`` must keep waiting until it has.

The test holds the slow writer's transaction open on a raw connection, as a
slow write node would, and gates the projection so that the batch holding
position 1 cannot commit until the test says so.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats_kit
import psycopg
import pytest
from bus_kit import CODEC, Noted, nats_bus, options

from kiroku import ProjectionHost, Recorded
from kiroku.bus import Relay
from kiroku.bus.source import BusSource
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.projections import Projection, Tx, handles
from kiroku.testing.postgres import fresh_database

pytestmark = pytest.mark.postgres
nats_url = nats_kit.nats_url
PATIENCE = 20.0
SETTLE = 0.5  # time for a waiter that would answer early to do so


class Gated(Projection):
    """Every event lands in the read model; events of ``gated-*`` wait for the gate."""

    name = "ryw.gated"

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if e.stream.startswith("gated-"):
            await self.gate.wait()
        await tx.collection("notes").put(e.stream, {"text": e.data.text})


@pytest.fixture(name="dsn")
async def dsn_fixture() -> AsyncIterator[str]:
    async with fresh_database() as dsn:
        yield dsn


async def _slow_writer(dsn: str) -> psycopg.AsyncConnection[Any]:
    conn = await psycopg.AsyncConnection.connect(
        dsn, autocommit=True, options="-c search_path=kiroku"
    )
    await conn.execute("BEGIN")
    await conn.execute("SELECT pg_current_xact_id()")  # takes its transaction id now
    return conn


async def _append_in(conn: psycopg.AsyncConnection[Any], stream: str) -> int:
    cur = await conn.execute(
        "SELECT outcome, first_position FROM append_batch(%s::text[], %s::bigint[],"
        " %s::integer[], false, %s::text[], %s::integer[], %s::text[], %s::uuid[],"
        " %s::timestamptz[], %s::text[], %s::text[], %s::jsonb[])",
        ([stream], [-1], [1], ["bus.Noted"], [1], ['{"text":"slow"}'], [uuid.uuid4()],
         [datetime.now(UTC)], [None], [None], ["{}"]),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    assert row[0] == "ok", row
    return int(row[1])


async def _answers_only_once_processed(
    journal: PostgreSQLJournal, dsn: str, host: ProjectionHost, gated: Gated
) -> None:
    runner = host.runner(Gated.name)
    slow = await _slow_writer(dsn)  # the older transaction id
    try:
        mine = await journal.append("gated-1", 0, CODEC.encode_all([Noted("mine")]))
        theirs = await _append_in(slow, "slow-1")  # a higher position, an older tx
        assert theirs > mine.position
        await slow.execute("COMMIT")
        # delivered (tx, position) order: theirs first, then mine
        await runner.wait_for(theirs, timeout=PATIENCE)
        assert runner.position >= mine.position  # a position check alone would answer now
        waiting = asyncio.ensure_future(host.wait_for(mine.position, timeout=PATIENCE))
        done, _ = await asyncio.wait({waiting}, timeout=SETTLE)
        assert not done, "answered before the runner processed the event"
        gated.gate.set()
        await waiting
        view = runner.store.reader()
        try:
            assert await view.collection("notes").get("gated-1") == {"text": "mine"}
        finally:
            view.close()
    finally:
        gated.gate.set()
        await slow.close()


async def test_a_journal_fed_runner_waits_for_its_cursor_not_its_highest_position(
    dsn: str, tmp_path: Path
) -> None:
    gated = Gated()
    async with await PostgreSQLJournal.open(dsn, poll_interval=0.2) as journal:
        host = ProjectionHost(journal, [gated], tmp_path, codec=CODEC, batch_size=1)
        await host.start()
        try:
            await _answers_only_once_processed(journal, dsn, host, gated)
        finally:
            await host.close()


@pytest.mark.nats
async def test_a_bus_fed_runner_waits_for_its_cursor_not_its_highest_position(
    dsn: str, tmp_path: Path, nats_url: str
) -> None:
    gated = Gated()
    async with (
        await PostgreSQLJournal.open(dsn, poll_interval=0.2) as journal,
        nats_bus(nats_url, options()) as bus,
        Relay(journal, bus, batch_size=1),
    ):
        host = ProjectionHost(journal, [gated], tmp_path, codec=CODEC, batch_size=1)
        host.runner(Gated.name).source = BusSource(bus, Gated.name, batch_size=1)
        await host.start()
        try:
            await _answers_only_once_processed(journal, dsn, host, gated)
        finally:
            await host.close()
