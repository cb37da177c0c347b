"""Each test gets a fresh database on the session's throwaway PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.testing.postgres import fresh_database


@pytest.fixture
async def dsn() -> AsyncIterator[str]:
    async with fresh_database() as dsn:
        yield dsn


@pytest.fixture
async def journal(dsn: str) -> AsyncIterator[PostgreSQLJournal]:
    async with await PostgreSQLJournal.open(dsn, poll_interval=0.5) as journal:
        yield journal
