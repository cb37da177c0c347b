"""The SQLite read store keeps the read-store and checkpoint contracts."""

from pathlib import Path

import pytest

from kiroku.testing.contracts.checkpoint import CheckpointContract
from kiroku.testing.contracts.read_store import ReadStoreContract, StoreFactory, open_sqlite


class TestSQLiteReadStore(CheckpointContract):
    store_factory = "kiroku.projections.store:ProjectionStore"


class TestSQLiteReadStoreContract(ReadStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return lambda name: open_sqlite(str(tmp_path / f"{name}.db"), name)
