"""PostgreSQLJournal keeps the journal contract, including across reopening."""

from collections.abc import AsyncIterator
from functools import partial

import pytest

from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.testing.journal_contract import JournalContract, JournalFactory
from kiroku.testing.postgres import fresh_database

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
