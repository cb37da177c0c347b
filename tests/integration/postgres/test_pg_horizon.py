"""Readers of the PostgreSQL journal wait for open transactions and never skip.

Each test holds a writer's transaction open on a raw connection, as a slow
write node would, and shows what a subscriber sees meanwhile and afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from pgkit import append_in, dsn_fixture, events, journal_fixture, raw_connection  # noqa: F401 - fixtures

from kiroku.domain.envelope import StoredEvent
from kiroku.journal.postgres import PostgreSQLJournal

pytestmark = pytest.mark.postgres

SETTLE = 0.6  # longer than one fallback poll (0.5 s in these tests)
PATIENCE = 10.0


async def _next(batches: AsyncIterator[list[StoredEvent]]) -> list[StoredEvent]:
    return await asyncio.wait_for(anext(batches), PATIENCE)


async def _nothing_within(
    batches: AsyncIterator[list[StoredEvent]], seconds: float
) -> asyncio.Task[list[StoredEvent]]:
    pending = asyncio.ensure_future(anext(batches))
    done, _ = await asyncio.wait({pending}, timeout=seconds)
    assert not done, f"delivered {pending.result() if done else ''} while it must wait"
    return pending


async def test_a_lower_position_that_commits_later_is_not_skipped(
    journal: PostgreSQLJournal, dsn: str
) -> None:
    """The sequence trap: position 1 is taken first but commits after position 2."""
    slow = await raw_connection(dsn)
    batches = journal.subscribe(0)
    try:
        await slow.execute("BEGIN")
        first, _ = await append_in(slow, "slow-1", 1)
        fast = await journal.append("fast-1", 0, events(1))
        assert fast.position > first
        waiting = await _nothing_within(batches, SETTLE)
        horizon = await journal.horizon()
        assert horizon.waiting_events == 1
        assert journal.held_back_seconds > 0
        await slow.execute("COMMIT")
        got = [e for batch in [await asyncio.wait_for(waiting, PATIENCE)] for e in batch]
        if len(got) < 2:
            got += await _next(batches)
        assert [(e.stream, e.position) for e in got] == [
            ("slow-1", first),
            ("fast-1", fast.position),
        ]
        assert await journal.read_all(0) == got
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await slow.close()


async def test_a_rolled_back_gap_never_blocks_readers(journal: PostgreSQLJournal, dsn: str) -> None:
    aborted = await raw_connection(dsn)
    batches = journal.subscribe(0)
    try:
        await aborted.execute("BEGIN")
        gap_lo, gap_hi = await append_in(aborted, "gone-1", 3)
        await aborted.execute("ROLLBACK")
        after = await journal.append("kept-1", 0, events(2))
        assert after.first_position > gap_hi
        got = await _next(batches)
        assert [(e.stream, e.version) for e in got] == [("kept-1", 1), ("kept-1", 2)]
        assert (await journal.horizon()).waiting_events == 0
        assert await journal.read_all(gap_lo) == got  # a gap's position reads from before it
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await aborted.close()


async def test_a_prepared_transaction_holds_readers_until_it_is_resolved(
    journal: PostgreSQLJournal, dsn: str
) -> None:
    writer = await raw_connection(dsn)
    batches = journal.subscribe(0)
    try:
        await writer.execute("BEGIN")
        prepared, _ = await append_in(writer, "two-phase-1", 1)
        await writer.execute("PREPARE TRANSACTION 'kiroku-test'")
        await writer.close()  # the prepared transaction outlives its session
        later = await journal.append("plain-1", 0, events(1))
        waiting = await _nothing_within(batches, SETTLE)
        horizon = await journal.horizon()
        assert horizon.waiting_events == 1
        assert horizon.oldest_age_seconds > 0
        admin = await raw_connection(dsn)
        await admin.execute("COMMIT PREPARED 'kiroku-test'")
        await admin.close()
        got = await asyncio.wait_for(waiting, PATIENCE)
        if len(got) < 2:
            got += await _next(batches)
        assert [e.position for e in got] == [prepared, later.position]
    finally:
        await batches.aclose()  # type: ignore[attr-defined]


async def test_an_idle_in_transaction_writer_is_measured_warned_about_and_timed_out(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What the docs recommend: idle_in_transaction_session_timeout ends the stall."""
    journal = await PostgreSQLJournal.open(dsn, poll_interval=0.5, horizon_warning=0.3)
    idle = await raw_connection(dsn)
    batches = journal.subscribe(0)
    try:
        await idle.execute("SET idle_in_transaction_session_timeout = '1500ms'")
        await idle.execute("BEGIN")
        await append_in(idle, "idle-1", 1)
        done = await journal.append("busy-1", 0, events(1))
        with caplog.at_level(logging.WARNING, logger="kiroku.journal.postgres.journal"):
            waiting = await _nothing_within(batches, 0.9)
            assert (await journal.horizon()).oldest_age_seconds >= 0.5
            got = await asyncio.wait_for(waiting, PATIENCE)  # the server ends the idle session
        assert [e.position for e in got] == [done.position]
        assert "idle_in_transaction_session_timeout" in caplog.text
        assert "held back" in caplog.text
    finally:
        await batches.aclose()  # type: ignore[attr-defined]
        await idle.close()
        await journal.close()
