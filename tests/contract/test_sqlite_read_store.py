"""The SQLite read store keeps the checkpoint contract."""

from kiroku.testing.contracts.checkpoint import CheckpointContract


class TestSQLiteReadStore(CheckpointContract):
    store_factory = "kiroku.projections.store:ProjectionStore"
