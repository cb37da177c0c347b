"""Wake-ups between processes (LISTEN/NOTIFY, with a fallback poll) and group commit.

Two journal objects on one database stand for two processes: one appends,
the other follows.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from pgkit import check_stream_order, dsn_fixture, events, journal_fixture, raw_connection  # noqa: F401 - fixtures

from kiroku.errors import InputError, WrongExpectedVersionError
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import ANY, AppendResult

pytestmark = pytest.mark.postgres


async def _wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition never held"
        await asyncio.sleep(0.02)


async def test_notify_wakes_a_reader_in_another_process_without_polling(dsn: str) -> None:
    reader = await PostgreSQLJournal.open(dsn, poll_interval=60)  # polling would take a minute
    writer = await PostgreSQLJournal.open(dsn)
    batches = reader.subscribe(0)
    try:
        await _wait_until(lambda: reader.listening)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.2)
        await writer.append("room-1", 0, events(1))
        got = await asyncio.wait_for(waiting, 5)
        assert [e.stream for e in got] == ["room-1"]
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await writer.close()
        await reader.close()


async def test_a_killed_listen_connection_does_not_stall_a_reader(dsn: str) -> None:
    """pyeventsourcing #305: a projection that waited on a dead LISTEN waited forever."""
    reader = await PostgreSQLJournal.open(dsn, poll_interval=0.5)
    writer = await PostgreSQLJournal.open(dsn)
    admin = await raw_connection(dsn)
    batches = reader.subscribe(0)
    try:
        await _wait_until(lambda: reader.listening)
        pid = reader.listener_pid
        waiting = asyncio.ensure_future(anext(batches))
        await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        await writer.append("room-1", 0, events(1))  # its NOTIFY finds no listener
        got = await asyncio.wait_for(waiting, 5)
        assert [e.stream for e in got] == ["room-1"]
        await _wait_until(lambda: reader.listening and reader.listener_pid != pid)
        waiting = asyncio.ensure_future(anext(batches))
        await writer.append("room-1", 1, events(1))
        assert [e.version for e in await asyncio.wait_for(waiting, 5)] == [2]
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await admin.close()
        await writer.close()
        await reader.close()


async def test_appends_arriving_together_share_a_transaction(journal: PostgreSQLJournal) -> None:
    results = await asyncio.gather(*(journal.append(f"room-{i}", 0, events(2)) for i in range(100)))
    stats = journal.stats
    assert stats.appends == 100
    assert stats.commits < 20, stats
    assert stats.largest_batch > 10
    positions = sorted(p for r in results for p in range(r.first_position, r.position + 1))
    assert positions == list(range(1, 201))


async def test_one_conflict_in_a_batch_fails_alone(journal: PostgreSQLJournal) -> None:
    """Savepoints: a duplicate event id and a stale version among 50 good appends."""
    taken = events(1)
    await journal.append("room-0", 0, taken)
    calls = [journal.append(f"room-{i}", 0, events(1)) for i in range(1, 51)]
    calls.insert(10, journal.append("dup-1", 0, [*events(1), taken[0]]))
    calls.insert(20, journal.append("room-0", 0, events(1)))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes.pop(20), WrongExpectedVersionError)
    duplicate = outcomes.pop(10)
    assert isinstance(duplicate, InputError)
    assert str(taken[0].event_id) in str(duplicate)
    assert all(isinstance(o, AppendResult) for o in outcomes)
    assert await journal.stream_version("dup-1") == 0
    assert len(await journal.read_all(0, 1000)) == 51


async def test_two_processes_racing_on_streams_keep_each_streams_order(dsn: str) -> None:
    """Writers of one stream in different processes: versions stay gapless and readers
    get each stream in version order (an append that would land behind a newer
    transaction's is retried in a newer one)."""
    a = await PostgreSQLJournal.open(dsn, writers=3)
    b = await PostgreSQLJournal.open(dsn, writers=3)
    try:

        async def write(journal: PostgreSQLJournal, n: int) -> None:
            for i in range(n):
                await journal.append(
                    f"shared-{i % 5}", ANY, events(1, correlation_id=str(uuid.uuid4()))
                )

        await asyncio.gather(*(write(j, 40) for j in (a, b) for _ in range(5)))
        seen = []
        after = 0
        while batch := await a.read_all(after, 97):
            seen += batch
            after = batch[-1].position
        assert len(seen) == 400
        check_stream_order(seen)
    finally:
        await a.close()
        await b.close()


async def test_closing_with_several_writers_finishes_what_is_queued(dsn: str) -> None:
    journal = await PostgreSQLJournal.open(dsn, writers=3, max_batch=4)
    appends = [asyncio.ensure_future(journal.append(f"room-{i}", 0, events(1))) for i in range(60)]
    await asyncio.sleep(0.01)
    await asyncio.wait_for(journal.close(), 20)
    results = await asyncio.gather(*appends, return_exceptions=True)
    assert all(isinstance(r, AppendResult) for r in results), results
