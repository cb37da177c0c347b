"""What SQLiteJournal promises beyond the shared contract: group commit, a file
people can read with the sqlite3 shell, reads that do not wait for the writer,
driver errors converted at the boundary, and a clean close."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from kiroku.errors import InputError, JournalError, WrongExpectedVersionError
from kiroku.journal import ANY, NO_STREAM, AppendResult
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.testing.journal_contract import new_events


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
    async with await SQLiteJournal.open(tmp_path / "journal.db") as journal:
        yield journal


async def test_concurrent_appends_share_commits(journal: SQLiteJournal) -> None:
    results = await asyncio.gather(
        *(journal.append(f"room-{i}", NO_STREAM, new_events(2)) for i in range(200))
    )
    stats = journal.stats
    assert (stats.appends, stats.events, stats.rejected) == (200, 400, 0)
    assert stats.commits < stats.appends
    assert stats.largest_batch > 1
    assert sorted(r.position for r in results) == list(range(2, 401, 2))


async def test_rejected_appends_are_counted_and_take_no_positions(
    journal: SQLiteJournal,
) -> None:
    await journal.append("room-1", NO_STREAM, new_events(1))
    outcomes = await asyncio.gather(
        journal.append("room-1", 0, new_events(1)),
        journal.append("room-2", NO_STREAM, new_events(1)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[0], WrongExpectedVersionError)
    assert journal.stats.rejected == 1
    assert [e.position for e in await journal.read_all()] == [1, 2]


async def test_the_file_is_readable_with_plain_sqlite(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    [sent] = new_events(1, metadata={"tenant": "acme"})
    await journal.append("room-1", NO_STREAM, [sent])
    with sqlite3.connect(tmp_path / "journal.db") as raw:
        row = raw.execute(
            "SELECT json_extract(data, '$.n'), event_id, occurred_at,"
            " json_extract(metadata, '$.tenant'), typeof(data) FROM events"
        ).fetchone()
    at = sent.occurred_at.isoformat(timespec="microseconds")
    assert row == (1, str(sent.event_id), at, "acme", "text")


async def test_reads_and_the_loop_go_on_while_the_write_lock_is_held(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    await journal.append("room-1", NO_STREAM, new_events(1))
    other = sqlite3.connect(tmp_path / "journal.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        blocked = asyncio.ensure_future(journal.append("room-1", 1, new_events(1)))
        done, _ = await asyncio.wait({blocked}, timeout=0.2)
        assert not done
        assert [e.version for e in await journal.read_stream("room-1")] == [1]
    finally:
        other.execute("COMMIT")
        other.close()
    assert (await asyncio.wait_for(blocked, 10)).version == 2


async def test_a_busy_database_becomes_a_journal_error_and_writes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path, busy_timeout=0.05) as journal:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(JournalError, match="SQLITE_BUSY") as caught:
                await journal.append("room-1", NO_STREAM, new_events(1))
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert await journal.stream_version("room-1") == 0
        result = await journal.append("room-1", NO_STREAM, new_events(1))
        assert result.position == 1


async def test_two_journals_on_one_file_race_like_two_processes(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    async with (
        await SQLiteJournal.open(path) as first,
        await SQLiteJournal.open(path) as second,
    ):
        outcomes = await asyncio.gather(
            first.append("room-1", NO_STREAM, new_events(1)),
            second.append("room-1", NO_STREAM, new_events(1)),
            return_exceptions=True,
        )
        assert sorted(type(o).__name__ for o in outcomes) == [
            "AppendResult",
            "WrongExpectedVersionError",
        ]
        await second.append("room-2", ANY, new_events(2))
        assert [e.position for e in await first.read_all()] == [1, 2, 3]


async def test_close_finishes_the_appends_already_queued(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = await SQLiteJournal.open(path)
    pending = [
        asyncio.ensure_future(journal.append(f"room-{i}", NO_STREAM, new_events(1)))
        for i in range(50)
    ]
    await asyncio.sleep(0)  # let every task hand its append to the writer
    await journal.close()
    assert all(p.done() and p.exception() is None for p in pending)
    async with await SQLiteJournal.open(path) as again:
        assert await again.head_position() == 50


async def test_opening_something_that_is_not_a_journal_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="opening the journal"):
        await SQLiteJournal.open(tmp_path)  # a directory
    not_db = tmp_path / "notes.txt"
    not_db.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(JournalError, match="opening the journal"):
        await SQLiteJournal.open(not_db)


async def test_a_file_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(JournalError, match="schema version 99"):
        await SQLiteJournal.open(path)


async def _queued_together(path: Path, appends: list[Awaitable[AppendResult]]) -> list[object]:
    """Start ``appends`` while another connection holds the write lock, so the
    writer finds them queued side by side and runs them as one group."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        pending = [asyncio.ensure_future(a) for a in appends]
        await asyncio.sleep(0.05)  # every task hands its append to the writer
    finally:
        other.execute("COMMIT")
        other.close()
    return await asyncio.gather(*pending, return_exceptions=True)


async def test_appends_queued_together_act_as_if_one_after_another(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    await journal.append("room-1", NO_STREAM, new_events(1))
    outcomes = await _queued_together(
        tmp_path / "journal.db",
        [
            journal.append("room-1", 1, new_events(2)),
            journal.append("room-1", 3, new_events(1)),  # sees the append before it
            journal.append("room-1", 1, new_events(1)),  # stale by then
            journal.append("room-2", NO_STREAM, new_events(1)),
            journal.append("room-3", ANY, new_events(1)),
        ],
    )
    assert journal.stats.largest_batch >= 3
    first, second, stale, room2, room3 = outcomes
    assert isinstance(first, AppendResult)
    assert isinstance(second, AppendResult)
    assert (first.version, first.first_position, first.position) == (3, 2, 3)
    assert (second.version, second.position) == (4, 4)
    assert isinstance(stale, WrongExpectedVersionError)
    assert (stale.expected, stale.actual) == (1, 4)
    assert isinstance(room2, AppendResult)
    assert isinstance(room3, AppendResult)
    assert (room2.position, room3.position) == (5, 6)
    stored = await journal.read_all()
    assert [e.position for e in stored] == [1, 2, 3, 4, 5, 6]
    assert [e.version for e in stored if e.stream == "room-1"] == [1, 2, 3, 4]
    assert await journal.stream_version("room-1") == 4
    assert journal.stats.rejected == 1


async def test_no_stream_and_any_in_a_group_check_as_they_do_alone(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    await journal.append("room-1", NO_STREAM, new_events(1))
    outcomes = await _queued_together(
        tmp_path / "journal.db",
        [
            journal.append("room-1", NO_STREAM, new_events(1)),  # it exists: stale
            journal.append("room-1", ANY, new_events(2)),  # no check at all
            journal.append("room-2", NO_STREAM, new_events(1)),
            journal.append("room-2", NO_STREAM, new_events(1)),  # the one before made it
            journal.append("room-3", 0, new_events(1)),  # 0 is NO_STREAM
        ],
    )
    assert journal.stats.largest_batch >= 3  # run together, by append_many
    stale, anything, room2, room2_again, room3 = outcomes
    assert isinstance(stale, WrongExpectedVersionError)
    assert (stale.expected, stale.actual) == (NO_STREAM, 1)
    assert isinstance(anything, AppendResult)
    assert (anything.version, anything.first_position, anything.position) == (3, 2, 3)
    assert isinstance(room2, AppendResult)
    assert room2.version == 1
    assert isinstance(room2_again, WrongExpectedVersionError)
    assert (room2_again.expected, room2_again.actual) == (NO_STREAM, 1)
    assert isinstance(room3, AppendResult)
    assert (room3.version, room3.position) == (1, 5)
    assert journal.stats.rejected == 2


async def test_a_duplicate_id_in_a_group_fails_only_its_own_append(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    [taken] = new_events(1)
    await journal.append("room-0", NO_STREAM, [taken])
    [first] = new_events(1)
    outcomes = await _queued_together(
        tmp_path / "journal.db",
        [
            journal.append("room-1", NO_STREAM, [first]),
            journal.append("room-2", NO_STREAM, new_events(1, event_id=first.event_id)),
            journal.append("room-3", NO_STREAM, new_events(2)),
            journal.append("room-4", NO_STREAM, new_events(1, event_id=taken.event_id)),
            journal.append("room-5", NO_STREAM, new_events(1)),
        ],
    )
    assert journal.stats.largest_batch >= 3
    ok1, dup_in_group, ok3, dup_stored, ok5 = outcomes
    for dup, event_id in ((dup_in_group, first.event_id), (dup_stored, taken.event_id)):
        assert isinstance(dup, InputError)
        assert f"event_id {event_id} is already in the journal" in str(dup)
    assert [type(o) for o in (ok1, ok3, ok5)] == [AppendResult] * 3
    stored = await journal.read_all()
    assert [(e.position, e.stream) for e in stored] == [
        (1, "room-0"),
        (2, "room-1"),
        (3, "room-3"),
        (4, "room-3"),
        (5, "room-5"),
    ]
    assert await journal.stream_version("room-2") == 0
    assert await journal.stream_version("room-4") == 0
