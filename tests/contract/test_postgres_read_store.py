"""The PostgreSQL read store keeps the read-store and checkpoint contracts, on a
throwaway server (under CI=true these run, never skip)."""

from collections.abc import AsyncIterator

import pytest

from kiroku.testing.contracts.checkpoint import CheckpointContract
from kiroku.testing.contracts.read_store import ReadStoreContract, StoreFactory, open_postgres
from kiroku.testing.postgres import fresh_database

pytestmark = pytest.mark.postgres


class TestPostgresReadStore(ReadStoreContract):
    @pytest.fixture
    async def dsn(self) -> AsyncIterator[str]:
        async with fresh_database() as dsn:
            yield dsn

    @pytest.fixture
    def store_factory(self, dsn: str) -> StoreFactory:
        return lambda name: open_postgres(dsn, name)


class TestPostgresCheckpoint(CheckpointContract):
    store_factory = "kiroku.testing.contracts.read_store:open_postgres"

    @pytest.fixture
    async def place(self) -> AsyncIterator[str]:
        async with fresh_database() as dsn:
            yield dsn
