"""SQLiteJournal keeps the journal contract, including across reopening."""

from functools import partial
from pathlib import Path

import pytest

from kiroku.journal.sqlite import SQLiteJournal
from kiroku.testing.journal_contract import JournalContract, JournalFactory


class TestSQLiteJournal(JournalContract):
    durable = True

    @pytest.fixture
    def journal_factory(self, tmp_path: Path) -> JournalFactory:
        return partial(SQLiteJournal.open, tmp_path / "journal.db")
