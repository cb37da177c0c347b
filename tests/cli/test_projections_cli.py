"""The read-side commands, run as subprocesses on a real data directory."""

from __future__ import annotations

import asyncio
import getpass
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kiroku import Codec
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

sys.path.insert(0, str(Path(__file__).parent))
from cli_app import REGISTRY, Noted, Opened

HERE = Path(__file__).parent
KIROKU = str(Path(sys.executable).parent / "kiroku")  # the installed console script


async def append(data: Path, stream: str, *events: object) -> None:
    journal = await SQLiteJournal.open(data / "journal.db")
    await journal.append(stream, ANY, Codec(REGISTRY).encode_all(list(events)))
    await journal.close()


def fill(path: Path) -> Path:
    asyncio.run(append(path, "board-1", Opened("a"), Noted("x"), Noted("poison"), Noted("y")))
    asyncio.run(append(path, "board-2", Opened("b"), Noted("z")))
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return fill(tmp_path)


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory whose cli.boards has caught up to 6; tests must leave it so."""
    path = fill(tmp_path_factory.mktemp("replayed"))
    kiroku(path, "replay", "cli.boards", "--from", "1")
    return path


def kiroku(data: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(HERE),
        "KIROKU_APP": "cli_app:app",
        "KIROKU_DATA": str(data),
        "COLUMNS": "200",
    }
    done = subprocess.run(
        [KIROKU, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode == 0) is ok, done.stdout + done.stderr
    return done


def checkpoint(data: Path, name: str) -> int:
    db = sqlite3.connect(data / "read" / f"{name}.g1.db")
    row = db.execute("SELECT position FROM kiroku_checkpoint").fetchone()
    db.close()
    return 0 if row is None else int(row[0])


def test_a_replay_says_what_it_does_and_refuses_a_projection_not_replay_safe(
    data: Path,
) -> None:
    kiroku(data, "rebuild", "cli.tally")
    failed = kiroku(data, "replay", "cli.tally", "--from", "2", ok=False)
    assert "Replay of cli.tally refused" in failed.stderr
    assert "kiroku rebuild cli.tally" in failed.stderr
    db = sqlite3.connect(data / "read" / "cli.tally.g2.db")
    assert db.execute("SELECT count(*) FROM tally").fetchone() == (4,)  # nothing counted twice
    db.close()
    out = kiroku(data, "replay", "cli.boards", "--from", "2").stdout
    assert "cli.boards is replay-safe: events from position 2 are delivered again" in out


def test_replay_then_status_parked_skip_and_ledger(data: Path) -> None:
    out = kiroku(data, "replay", "cli.picky", "--from", "1").stdout
    assert "cli.picky: replayed from position 1 to 6" in out
    assert "2 parked" in out
    status = kiroku(data, "projections").stdout
    assert "cli.picky" in status
    assert "cli.boards" in status
    row = next(line for line in status.splitlines() if "cli.picky" in line)
    assert row.split("│")[3:8] == [" 6        ", " 6    ", " 0   ", " 0.0     ", " 2      "]
    parked = kiroku(data, "parked", "cli.picky").stdout
    assert "cli.picky:1" in parked
    assert "ValueError: poison is not a note" in parked
    assert "cli.picky:2" in parked
    assert "held" in parked
    refused = kiroku(data, "parked", "skip", "cli.picky:1", ok=False)
    assert "needs --reason" in refused.stderr
    kiroku(data, "parked", "skip", "cli.picky:1", "--reason", "voided by a producer fix")
    assert "0 parked events" in kiroku(data, "parked").stdout
    ledger = kiroku(data, "ledger", "3").stdout
    picky = next(line for line in ledger.splitlines() if "cli.picky" in line)
    assert "explicitly-skipped" in picky
    assert "voided by a producer fix" in picky
    assert "not-yet-reached" in next(line for line in ledger.splitlines() if "cli.boards" in line)
    held = kiroku(data, "ledger", "4").stdout
    assert "applied" in next(line for line in held.splitlines() if "cli.picky" in line)
    assert getpass.getuser() in picky  # who decided it


def test_a_skip_is_honoured_by_the_rebuild_and_replays_after_it(data: Path) -> None:
    kiroku(data, "replay", "cli.picky", "--from", "1")
    kiroku(data, "parked", "skip", "cli.picky:1", "--reason", "voided by a producer fix")
    out = kiroku(data, "rebuild", "cli.picky").stdout
    assert "cli.picky: rebuilt to position 6 and swapped" in out
    for _ in range(2):  # the new generation knows the decision, and keeps it on a replay
        picky = next(
            line for line in kiroku(data, "ledger", "3").stdout.splitlines() if "cli.picky" in line
        )
        assert "explicitly-skipped" in picky
        assert "skipped by" in picky
        assert "voided by a producer fix" in picky
        assert "0 parked events" in kiroku(data, "parked").stdout
        kiroku(data, "replay", "cli.picky", "--from", "1")


def test_ledger_by_event_id_and_not_subscribed(data: Path) -> None:
    first = kiroku(data, "events", "--stream", "board-2").stdout.splitlines()
    assert [line.split("\t")[1] for line in first] == ["board-2@1", "board-2@2"]
    journal = asyncio.run(_event_id(data, 5))
    out = kiroku(data, "ledger", journal).stdout
    assert "position 5 · board-2@1 cli.Opened" in out
    assert journal in out
    assert "not-subscribed" in next(line for line in out.splitlines() if "cli.picky" in line)


async def _event_id(data: Path, position: int) -> str:
    journal = await SQLiteJournal.open(data / "journal.db")
    event = await journal.get_event(position)
    await journal.close()
    return str(event.event_id)


def test_rebuild_reports_progress_and_swaps(data: Path) -> None:
    out = kiroku(data, "rebuild", "cli.boards").stdout
    assert "cli.boards: rebuilt to position 6 and swapped" in out
    assert (data / "read" / "cli.boards.g2.db").exists()
    db = sqlite3.connect(data / "read.db")
    assert db.execute("SELECT generation FROM kiroku_generations").fetchall() == [(2,)]
    db.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("replay", "nope", "--from", "1"), "No projection named 'nope'"),
        (("replay", "cli.boards", "--from", "99"), "position 99 is outside the journal (1..6)"),
        (("replay", "cli.boards", "--from", "1999-01-01"), "is before the first event"),
        (("replay", "cli.boards", "--from", "yesterday"), "a position or an ISO time"),
        (("ledger", "77"), "No event at 77"),
        (("parked", "retry", "cli.picky:9"), "no parked event #9"),
        (("parked", "retry", "nine"), "NAME:ID"),
        (("projections", "--app", "nowhere:app"), "Cannot import the app module 'nowhere'"),
    ],
)
def test_bad_input_is_a_clear_error_and_nothing_moves(
    replayed: Path, args: tuple[str, ...], message: str
) -> None:
    failed = kiroku(replayed, *args, ok=False)
    assert message in failed.stderr
    assert "Traceback" not in failed.stderr
    assert checkpoint(replayed, "cli.boards") == 6


def test_a_locked_read_store_is_reported_and_the_checkpoint_stays(replayed: Path) -> None:
    data = replayed
    lock = sqlite3.connect(data / "read" / "cli.boards.g1.db", isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        failed = kiroku(data, "replay", "cli.boards", "--from", "2", ok=False)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert "cli.boards" in failed.stderr
    assert "locked" in failed.stderr
    assert checkpoint(data, "cli.boards") == 6


def test_events_follow_prints_new_appends(data: Path) -> None:
    env = {**os.environ, "KIROKU_DATA": str(data), "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        [KIROKU, "events", "--follow", "--after", "6"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    ) as follower:
        assert follower.stdout is not None
        asyncio.run(append(data, "board-3", Opened("late")))
        line = follower.stdout.readline()
        follower.kill()
    assert line.split("\t")[:3] == ["7", "board-3@1", "cli.Opened/v1"]


def test_readers_answer_while_every_read_store_is_being_written(data: Path) -> None:
    """A replay or a runner holds a store's write lock for a batch at a time; the
    commands that only read (status, parked, ledger) must never need that lock."""
    kiroku(data, "replay", "cli.picky", "--from", "1")
    kiroku(data, "rebuild", "cli.boards")
    writers = []
    for path in [data / "read.db", *sorted((data / "read").glob("*.db"))]:
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # as a batch in progress does
        writers.append(writer)
    try:
        assert "cli.picky" in kiroku(data, "projections").stdout
        assert "2 parked events" in kiroku(data, "parked").stdout
        assert "cli.picky" in kiroku(data, "ledger", "3").stdout
    finally:
        for writer in writers:
            writer.close()


def test_a_corrupt_read_store_is_moved_aside_and_rebuilt_by_the_commands(data: Path) -> None:
    kiroku(data, "replay", "cli.boards", "--from", "1")
    store = data / "read" / "cli.boards.g1.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    store.write_bytes(b"not a database" * 300)
    out = kiroku(data, "rebuild", "cli.boards")
    assert "cli.boards: rebuilt to position 6 and swapped" in out.stdout
    assert "cannot be opened" in out.stderr
    assert [p.read_bytes()[:14] for p in store.parent.glob("cli.boards.g1.db.damaged-*")] == [
        b"not a database"
    ]
