"""The database lost mid-run: appends fail fast with a retryable error, nothing is
half-written, and the journal works again once the database is back."""

from __future__ import annotations

import asyncio
import socket
import uuid

import psycopg
import pytest
from pgkit import (
    TcpProxy,
    dsn_fixture,  # noqa: F401 - fixtures
    events,
)

from kiroku.errors import StorageUnavailableError
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import AppendResult

pytestmark = pytest.mark.postgres

BOUND = 15.0  # generous: a hang fails the test, a slow machine does not


async def test_appends_during_an_outage_fail_fast_and_atomically(dsn: str) -> None:
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    proxy = TcpProxy(str(params["host"]), int(str(params["port"])))
    await proxy.start()
    via_proxy = psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=proxy.port)
    journal = await PostgreSQLJournal.open(via_proxy, connect_timeout=2)
    sent: dict[str, list[uuid.UUID]] = {}
    try:
        await journal.append("before-1", 0, events(1))

        async def append(i: int) -> AppendResult | BaseException:
            batch = events(3)
            sent[f"room-{i}"] = [e.event_id for e in batch]
            try:
                return await journal.append(f"room-{i}", 0, batch)
            except StorageUnavailableError as e:
                return e

        in_flight = [asyncio.ensure_future(append(i)) for i in range(60)]
        await asyncio.sleep(0)
        await proxy.cut()
        outcomes = await asyncio.wait_for(asyncio.gather(*in_flight), BOUND)
        failed = [o for o in outcomes if isinstance(o, StorageUnavailableError)]
        assert failed, "no append was in flight when the connection was cut"
        assert "unavailable" in str(failed[0]) or "unreachable" in str(failed[0])

        with pytest.raises(StorageUnavailableError, match=f"127.0.0.1:{proxy.port}"):
            await asyncio.wait_for(journal.append("during-1", 0, events(1)), BOUND)
        with pytest.raises(StorageUnavailableError):
            await asyncio.wait_for(journal.read_all(0), BOUND)

        await proxy.start()
        after = await asyncio.wait_for(journal.append("after-1", 0, events(1)), BOUND)
        assert after.version == 1
    finally:
        await journal.close()
        await proxy.cut()

    async with await PostgreSQLJournal.open(dsn) as direct:
        for i, outcome in enumerate(outcomes):
            stored = [e.event_id for e in await direct.read_stream(f"room-{i}")]
            if isinstance(outcome, AppendResult):
                assert stored == sent[f"room-{i}"]
            else:  # lost with the connection: all of it or none (a COMMIT may have landed)
                assert stored in ([], sent[f"room-{i}"])
        assert await direct.read_stream("during-1") == []


async def test_opening_an_unreachable_database_names_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StorageUnavailableError, match=f"127.0.0.1:{port}"):
        await PostgreSQLJournal.open(f"postgresql://nobody@127.0.0.1:{port}/x", connect_timeout=2)


async def test_without_prepared_statements_for_transaction_poolers(dsn: str) -> None:
    async with await PostgreSQLJournal.open(dsn, prepared_statements=False) as journal:
        for version in range(8):  # past psycopg's threshold for preparing a statement
            await journal.append("room-1", version, events(1))
        assert [e.version for e in await journal.read_all(0)] == list(range(1, 9))
