"""Durability: what a backend with storage keeps across reopening."""

from __future__ import annotations

from kiroku.journal.protocol import (
    NO_STREAM,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    JournalFactory,
    JournalFixtures,
    new_events,
    snapshot,
)

__all__ = ["DurabilityContract"]


class DurabilityContract(JournalFixtures):
    # -- durability (backends with storage that outlives the object) ---------------

    async def test_everything_survives_reopening(
        self, journal: Journal, journal_factory: JournalFactory
    ) -> None:
        self._need_durable()
        await journal.append("room-1", NO_STREAM, new_events(3, metadata={"k": "v"}))
        await journal.save_snapshot(snapshot("room-1", 2))
        before = await journal.read_all()
        await journal.close()
        again = await journal_factory()
        try:
            assert await again.read_all() == before
            assert await again.load_snapshot("room-1") == snapshot("room-1", 2)
            result = await again.append("room-1", 3, new_events(1))
            assert (result.version, result.position) == (4, 4)
        finally:
            await again.close()

    async def test_positions_are_never_reused_after_deleting_the_newest(
        self, journal: Journal, journal_factory: JournalFactory
    ) -> None:
        self._need_durable()
        await journal.append("room-1", NO_STREAM, new_events(3))
        await journal.delete_before("room-1", 4)
        await journal.close()
        again = await journal_factory()
        try:
            assert await again.head_position() == 3
            assert await again.stream_version("room-1") == 3
            result = await again.append("room-2", NO_STREAM, new_events(1))
            assert result.position == 4
        finally:
            await again.close()
