"""A lone append runs without a savepoint, and recovery reads in one trip: both
must behave exactly as the general paths do."""

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from kiroku import Snapshot
from kiroku.corrections.events import SYSTEM_PREFIX
from kiroku.domain.envelope import utc_now
from kiroku.errors import InputError, WrongExpectedVersionError
from kiroku.journal import NO_STREAM
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite import queries as q
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
    assert await journal.recovery_read("room-1") == (None, 0, [], [])
    await journal.append("room-1", NO_STREAM, new_events(5))
    snapshot, version, whole, folded = await journal.recovery_read("room-1")
    assert (snapshot, version, whole) == (None, 5, [])
    assert [e.version for e in folded] == [1, 2, 3, 4, 5]
    stored = await journal.read_stream("room-1")
    assert [(e.position, e.type, e.data) for e in folded] == [
        (e.position, e.type, e.data) for e in stored
    ]
    saved = Snapshot("room-1", 3, "State", 1, b"{}", utc_now(), {})
    await journal.save_snapshot(saved)
    snapshot, version, whole, folded = await journal.recovery_read("room-1")
    assert snapshot is not None
    assert (snapshot.version, version, whole, [e.version for e in folded]) == (3, 5, [], [4, 5])


@pytest.mark.parametrize("kind", ["metadata", "system"])
async def test_events_recovery_needs_whole_come_whole(journal: SQLiteJournal, kind: str) -> None:
    events = new_events(3)
    if kind == "metadata":
        events[1] = msgspec.structs.replace(events[1], metadata={"idempotency_key": "k"})
    else:
        events[1] = msgspec.structs.replace(events[1], type=SYSTEM_PREFIX + "Retracted")
    await journal.append("room-1", NO_STREAM, events)
    _, version, whole, folded = await journal.recovery_read("room-1")
    assert (version, folded) == (3, [])
    assert whole == await journal.read_stream("room-1")


def test_the_journal_knows_the_system_prefix() -> None:
    assert q.SYSTEM_PREFIX == SYSTEM_PREFIX


async def test_a_lone_append_never_reuses_a_position(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    """Its position comes from AUTOINCREMENT: past deleted events, and past what
    another connection appended since this writer's last commit."""
    await journal.append("room-1", NO_STREAM, new_events(3))
    assert await journal.delete_before("room-1", 4) == 3  # the newest events are gone
    again = await journal.append("room-1", 3, new_events(1))
    assert (again.first_position, again.position) == (4, 4)
    other = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        await other.append("room-2", NO_STREAM, new_events(2))
    finally:
        await other.close()
    after = await journal.append("room-1", 4, new_events(1))
    assert (after.first_position, after.version) == (7, 5)
    assert [e.position for e in await journal.read_all()] == [4, 5, 6, 7]
