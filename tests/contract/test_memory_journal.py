"""MemoryJournal keeps the journal contract (everything but durability)."""

import pytest

from kiroku.journal import MemoryJournal
from kiroku.journal.protocol import Journal
from kiroku.testing.journal_contract import JournalContract, JournalFactory


async def _open() -> Journal:
    return MemoryJournal()


class TestMemoryJournal(JournalContract):
    @pytest.fixture
    def journal_factory(self) -> JournalFactory:
        return _open
