"""Big snapshots are written in parts, a part per commit: appends are not held
behind the whole snapshot, and a snapshot is only in force once all of it is."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiroku import Snapshot
from kiroku.domain.envelope import utc_now
from kiroku.errors import JournalError
from kiroku.journal import NO_STREAM
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite import snapshots as parts
from kiroku.journal.sqlite.writer import Tx
from kiroku.testing.journal_contract import new_events

SIZE = parts.PART_SIZE


def big(version: int, size: int, fill: bytes = b"x") -> Snapshot:
    data = b'"' + fill * (size - 2) + b'"'
    return Snapshot("room-1", version, "State", 1, data, utc_now(), {"keys": [version]})


def stored_parts(path: Path) -> list[tuple[int, int]]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT version, part FROM snapshot_parts ORDER BY version, part")
        return [(v, p) for v, p in rows]


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
    async with await SQLiteJournal.open(tmp_path / "journal.db") as journal:
        yield journal


async def test_a_big_snapshot_round_trips_through_its_parts(journal: SQLiteJournal) -> None:
    snapshot = big(7, 3 * SIZE + 123)
    commits = journal.stats.commits
    await journal.save_snapshot(snapshot)
    assert journal.stats.commits - commits == 4 + 1  # four parts, then the row naming them
    assert await journal.load_snapshot("room-1") == snapshot
    assert stored_parts(Path(journal.path)) == [(7, 0), (7, 1), (7, 2), (7, 3)]
    loaded, version, _, _ = await journal.recovery_read("room-1")
    assert (loaded, version) == (snapshot, 0)


async def test_replacing_a_big_snapshot_deletes_the_old_parts(journal: SQLiteJournal) -> None:
    await journal.save_snapshot(big(7, 2 * SIZE + 1))
    newer = big(9, 2 * SIZE + 5, b"y")
    await journal.save_snapshot(newer)
    assert await journal.load_snapshot("room-1") == newer
    assert stored_parts(Path(journal.path)) == [(9, 0), (9, 1), (9, 2)]
    small = Snapshot("room-1", 11, "State", 1, b'{"small":true}', utc_now(), {})
    await journal.save_snapshot(small)
    assert await journal.load_snapshot("room-1") == small
    assert stored_parts(Path(journal.path)) == []


async def test_appends_commit_between_the_parts(journal: SQLiteJournal) -> None:
    snapshot = big(3, 6 * SIZE)
    saving = asyncio.create_task(journal.save_snapshot(snapshot))
    await asyncio.sleep(0)  # the first part is queued
    await journal.append("room-2", NO_STREAM, new_events(1))
    assert not saving.done()  # the append did not wait for the other parts
    await saving
    assert await journal.load_snapshot("room-1") == snapshot


async def test_parts_without_their_row_are_not_in_force(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    """What a crash in the middle of a save leaves: the older snapshot stays in force,
    and the next save clears the orphans."""
    older = big(5, SIZE + 10)
    await journal.save_snapshot(older)
    with sqlite3.connect(tmp_path / "journal.db") as raw:
        raw.execute(
            "INSERT INTO snapshot_parts VALUES ('room-1', 8, 0, 3, ?)", (b"half a snapshot",)
        )
    assert await journal.load_snapshot("room-1") == older
    await journal.save_snapshot(big(12, SIZE + 20))
    assert stored_parts(tmp_path / "journal.db") == [(12, 0), (12, 1)]


async def test_a_snapshot_missing_a_part_is_refused_and_read_as_unusable(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    snapshot = big(4, 2 * SIZE + 1)
    await journal.save_snapshot(snapshot)
    with sqlite3.connect(tmp_path / "journal.db", isolation_level=None) as raw:
        raw.execute("DELETE FROM snapshot_parts WHERE part = 1")
        with pytest.raises(JournalError, match="2 of 3 parts"):
            parts.use_parts(snapshot, 3, Tx(raw, 0))
    loaded = await journal.load_snapshot("room-1")
    assert loaded is not None
    assert (loaded.version, loaded.data) == (4, b"")  # recovery folds the events instead


async def test_a_schema_version_1_file_gains_the_parts_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path, isolation_level=None) as raw:
        raw.execute("PRAGMA journal_mode = WAL")
        raw.executescript(
            "CREATE TABLE snapshots (stream TEXT PRIMARY KEY, version INTEGER NOT NULL,"
            " state_type TEXT NOT NULL, state_version INTEGER NOT NULL, data TEXT NOT NULL,"
            " taken_at TEXT NOT NULL, metadata TEXT NOT NULL DEFAULT '{}') WITHOUT ROWID;"
            " PRAGMA user_version = 1;"
        )
    async with await SQLiteJournal.open(path) as journal:
        snapshot = big(2, SIZE + 1)
        await journal.save_snapshot(snapshot)
        assert await journal.load_snapshot("room-1") == snapshot
