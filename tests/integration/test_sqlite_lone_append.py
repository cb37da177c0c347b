"""A lone append runs without a savepoint, and recovery reads in one trip: both
must behave exactly as the general paths do."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiroku import Snapshot
from kiroku.domain.envelope import utc_now
from kiroku.errors import InputError, WrongExpectedVersionError
from kiroku.journal import NO_STREAM
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.testing.journal_contract import new_events


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
    async with await SQLiteJournal.open(tmp_path / "journal.db") as journal:
        yield journal


async def test_a_rejected_lone_append_leaves_no_trace(journal: SQLiteJournal) -> None:
    first = await journal.append("room-1", NO_STREAM, new_events(2))
    with pytest.raises(WrongExpectedVersionError, match="room-1"):
        await journal.append("room-1", 1, new_events(1))
    assert await journal.stream_version("room-1") == 2  # the version moved first, and back
    duplicate = new_events(1)
    await journal.append("room-2", NO_STREAM, duplicate)
    with pytest.raises(InputError, match=str(duplicate[0].event_id)):
        await journal.append("room-1", 2, duplicate)
    assert await journal.stream_version("room-1") == 2
    after = await journal.append("room-1", 2, new_events(1))
    assert after.first_position == first.position + 2  # no position was used up
    assert [e.version for e in await journal.read_stream("room-1")] == [1, 2, 3]
    assert journal.stats.rejected == 2


async def test_recovery_read_is_the_snapshot_the_version_and_the_tail(
    journal: SQLiteJournal,
) -> None:
    assert await journal.recovery_read("room-1") == (None, 0, [])
    await journal.append("room-1", NO_STREAM, new_events(5))
    snapshot, version, tail = await journal.recovery_read("room-1")
    assert (snapshot, version, [e.version for e in tail]) == (None, 5, [1, 2, 3, 4, 5])
    saved = Snapshot("room-1", 3, "State", 1, b"{}", utc_now(), {})
    await journal.save_snapshot(saved)
    snapshot, version, tail = await journal.recovery_read("room-1")
    assert snapshot is not None
    assert (snapshot.version, version, [e.version for e in tail]) == (3, 5, [4, 5])
