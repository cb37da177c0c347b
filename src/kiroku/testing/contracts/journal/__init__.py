"""The journal contract: one pytest suite every Journal backend must pass, by concern.

A backend proves itself by subclassing ``JournalContract`` (or only the
concerns it implements) and providing a ``journal_factory`` fixture: an async
callable that opens a journal. Calling it again must reopen *the same
storage*; backends where that means anything (a file, a database) set
``durable = True`` and the reopening tests run too::

    class TestSQLiteJournal(JournalContract):
        durable = True

        @pytest.fixture
        def journal_factory(self, tmp_path: Path) -> JournalFactory:
            return partial(SQLiteJournal.open, tmp_path / "journal.db")
"""

from kiroku.testing.contracts.journal.append import AppendContract
from kiroku.testing.contracts.journal.base import JournalFactory, JournalFixtures, new_events
from kiroku.testing.contracts.journal.durability import DurabilityContract
from kiroku.testing.contracts.journal.lifecycle import LifecycleContract
from kiroku.testing.contracts.journal.read import ReadContract
from kiroku.testing.contracts.journal.snapshots import SnapshotContract
from kiroku.testing.contracts.journal.subscribe import SubscribeContract

__all__ = [
    "AppendContract",
    "DurabilityContract",
    "JournalContract",
    "JournalFactory",
    "JournalFixtures",
    "LifecycleContract",
    "ReadContract",
    "SnapshotContract",
    "SubscribeContract",
    "new_events",
]


class JournalContract(
    AppendContract,
    ReadContract,
    SubscribeContract,
    SnapshotContract,
    LifecycleContract,
    DurabilityContract,
):
    """Every concern at once: what a complete Journal backend subclasses."""
