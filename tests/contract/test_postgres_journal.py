"""PostgreSQLJournal keeps the journal contract, including across reopening, and
the interleaved-appenders property that every backend runs."""

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import pytest
from hypothesis import given, settings
from test_append_interleavings import STREAMS, Step, plans
from test_append_interleavings import _run as run_plan  # the shared property's runner

from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import Journal
from kiroku.testing.journal_contract import JournalContract, JournalFactory
from kiroku.testing.postgres import fresh_database, require_server

pytestmark = pytest.mark.postgres


class TestPostgreSQLJournal(JournalContract):
    durable = True

    @pytest.fixture
    async def dsn(self) -> AsyncIterator[str]:
        async with fresh_database() as dsn:
            yield dsn

    @pytest.fixture
    def journal_factory(self, dsn: str) -> JournalFactory:
        return partial(PostgreSQLJournal.open, dsn, poll_interval=0.5)


async def _horizon_passed(journal: Journal) -> None:
    """Readers see an event once no older transaction in the cluster is open (the
    horizon, docs/journal.md): wait, bounded, until every stored version is readable.
    A transaction left open would hold it for ever and fail here."""
    async with asyncio.timeout(10):
        while True:
            stored = sum([await journal.stream_version(s) for s in STREAMS])
            if len(await journal.read_all(0, limit=10_000)) >= stored:
                return
            await asyncio.sleep(0.05)


async def _in_fresh_database(plan: list[list[Step]]) -> None:
    async with fresh_database() as dsn:
        await run_plan(await PostgreSQLJournal.open(dsn), plan, _horizon_passed)


@settings(max_examples=15, deadline=None)
@given(plan=plans)
def test_interleaved_appenders_on_postgres(plan: list[list[Step]]) -> None:
    require_server()
    asyncio.run(_in_fresh_database(plan))
