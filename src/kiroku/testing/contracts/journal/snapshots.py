"""Snapshots and deletion behind them (retention)."""

from __future__ import annotations

import pytest

from kiroku.errors import (
    EventNotFoundError,
)
from kiroku.journal.protocol import (
    NO_STREAM,
    Journal,
)
from kiroku.testing.contracts.journal.base import (
    JournalFixtures,
    new_events,
    snapshot,
)

__all__ = ["SnapshotContract"]


class SnapshotContract(JournalFixtures):
    # -- snapshots and deletion ----------------------------------------------------

    async def test_snapshots_save_load_and_overwrite(self, journal: Journal) -> None:
        assert await journal.load_snapshot("room-1") is None
        first = snapshot("room-1", 3)
        await journal.save_snapshot(first)
        await journal.save_snapshot(snapshot("room-2", 1))
        assert await journal.load_snapshot("room-1") == first
        later = snapshot("room-1", 9, metadata={"keys": ["k1", "k2"]})
        await journal.save_snapshot(later)
        assert await journal.load_snapshot("room-1") == later
        assert await journal.load_snapshot("room-2") == snapshot("room-2", 1)

    async def test_delete_before_removes_old_events_but_not_the_numbering(
        self, journal: Journal
    ) -> None:
        written = new_events(5)
        await journal.append("room-1", NO_STREAM, written)
        await journal.append("room-2", NO_STREAM, new_events(1))
        assert await journal.delete_before("room-1", 4) == 3
        assert [e.version for e in await journal.read_stream("room-1")] == [4, 5]
        assert [e.version for e in await journal.read_all()] == [4, 5, 1]
        assert await journal.stream_version("room-1") == 5
        with pytest.raises(EventNotFoundError):
            await journal.find_event(written[0].event_id)
        with pytest.raises(EventNotFoundError):
            await journal.get_event(1)
        assert await journal.delete_before("room-1", 4) == 0
        result = await journal.append("room-1", 5, new_events(1))
        assert result.version == 6
        assert result.position == 7
