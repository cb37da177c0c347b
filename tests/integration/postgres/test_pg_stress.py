"""Many concurrent appenders, some of whose transactions stay open (pg_sleep) while
others commit around them: a subscriber receives every event exactly once, and
each stream's events in version order."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import psycopg
import pytest
from pgkit import check_stream_order, dsn_fixture, events, journal_fixture, raw_connection  # noqa: F401 - fixtures

from kiroku.domain.envelope import StoredEvent
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import ANY

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

STREAMS = [f"hot-{i}" for i in range(6)]
_RAW = (
    "SELECT outcome FROM append_batch(%s::text[], %s::bigint[], %s::integer[], false,"
    " %s::text[], %s::integer[], %s::text[], %s::uuid[], %s::timestamptz[], %s::text[],"
    " %s::text[], %s::jsonb[])"
)


async def _raw_append(conn: psycopg.AsyncConnection[Any], stream: str, event_id: uuid.UUID) -> str:
    cur = await conn.execute(
        _RAW,
        (
            [stream], [-1], [1], ["test.Happened"], [1], ['{"raw":true}'], [event_id],
            ["2030-01-01T00:00:00Z"], [None], [None], ["{}"],
        ),
    )  # fmt: skip
    row = await cur.fetchone()
    assert row is not None
    return str(row[0])


async def _slow_writer(dsn: str, n: int, rng: random.Random, acked: list[uuid.UUID]) -> int:
    """Transactions that take an id, sleep, then write a hot stream; retried when refused."""
    conn = await raw_connection(dsn)
    retries = 0
    try:
        for _ in range(n):
            own, hot = uuid.uuid4(), uuid.uuid4()
            while True:
                try:
                    async with conn.transaction():
                        assert await _raw_append(conn, f"slow-{uuid.uuid4().hex[:8]}", own) == "ok"
                        await conn.execute("SELECT pg_sleep(%s)", (rng.uniform(0.01, 0.15),))
                        if await _raw_append(conn, rng.choice(STREAMS), hot) != "ok":
                            raise _Retry
                    break
                except (_Retry, psycopg.errors.UniqueViolation):
                    retries += 1
            acked += [own, hot]
    finally:
        await conn.close()
    return retries


class _Retry(Exception):
    pass


async def test_every_event_once_in_stream_order_under_delayed_interleaved_commits(
    dsn: str,
) -> None:
    rng = random.Random(11)
    writers = [await PostgreSQLJournal.open(dsn, writers=3, max_batch=50) for _ in range(3)]
    follower = await PostgreSQLJournal.open(dsn, poll_interval=0.5)
    acked: list[uuid.UUID] = []

    async def fast(journal: PostgreSQLJournal, w: int) -> None:
        for i in range(60):
            batch = events(rng.randint(1, 3))
            stream = rng.choice(STREAMS) if i % 2 else f"own-{w}-{i}"
            await journal.append(stream, ANY, batch)
            acked.extend(e.event_id for e in batch)

    seen: list[StoredEvent] = []
    batches = follower.subscribe(0, batch_size=37)

    async def follow() -> None:
        async for batch in batches:
            seen.extend(batch)

    following = asyncio.ensure_future(follow())
    try:
        work = [fast(writers[w % 3], w) for w in range(12)]
        slow = [_slow_writer(dsn, 8, random.Random(s), acked) for s in range(6)]
        outcomes = await asyncio.gather(*work, *slow)
        while len(seen) < len(acked):
            await asyncio.sleep(0.05)
            assert not following.done()
            if len(seen) < len(acked):
                await asyncio.wait({following}, timeout=0.05)
        await asyncio.sleep(0.6)  # anything extra would arrive by now
    finally:
        following.cancel()
        for j in (*writers, follower):
            await j.close()
    ids = [e.event_id for e in seen]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert set(ids) == set(acked), "an acknowledged event was not delivered"
    check_stream_order(seen)
    retried = sum(j.stats.retried for j in writers) + sum(o for o in outcomes if o)
    assert retried > 0, "the interleavings never made a writer land behind a newer transaction"
