"""The operations tasks' record on disk: what it keeps, how it is replaced, and what
a missing or unreadable file reads as; and when ``OpsTasks`` writes it."""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiroku.apps.chat.http_ops_tasks import OpsTasks
from kiroku.apps.chat.ops_record import RECORD_FILE, TaskRecord, TaskRecordFile
from kiroku.projections import Progress

STARTED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def replay_done() -> TaskRecord:
    return TaskRecord(
        name="chat.timeline", kind="replay", started=STARTED, state="done with 2 parked",
        first=40, ended=datetime(2026, 5, 1, 12, 3, tzinfo=UTC),
        progress=Progress("chat.timeline", 900, 900, 861, 1200.5, 0.0, 2), resumed=1,
    )  # fmt: skip


def rebuild_running() -> TaskRecord:
    return TaskRecord(name="chat.rooms", kind="rebuild", started=STARTED)


def test_what_is_saved_loads_back_the_same(tmp_path: Path) -> None:
    record = TaskRecordFile(tmp_path)
    record.save([replay_done(), rebuild_running()])
    assert record.load() == {"chat.timeline": replay_done(), "chat.rooms": rebuild_running()}
    assert record.load()["chat.rooms"].running


def test_a_missing_file_is_no_task_and_creates_nothing(tmp_path: Path) -> None:
    assert TaskRecordFile(tmp_path).load() == {}
    assert list(tmp_path.iterdir()) == []


def test_a_save_replaces_the_whole_file_through_a_synced_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = TaskRecordFile(tmp_path)
    record.save([replay_done(), rebuild_running()])
    steps: list[str] = []
    fsync, replace = os.fsync, os.replace

    def synced(fd: int) -> None:
        steps.append("fsync dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync file")
        fsync(fd)

    def replaced(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        assert Path(src).parent == tmp_path, "the temporary file is beside the record"
        steps.append("replace")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", synced)
    monkeypatch.setattr(os, "replace", replaced)
    record.save([rebuild_running()])
    assert steps == ["fsync file", "replace", "fsync dir"]
    assert record.load() == {"chat.rooms": rebuild_running()}
    assert [p.name for p in tmp_path.iterdir()] == [RECORD_FILE]


def test_a_save_that_fails_leaves_the_old_record_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = TaskRecordFile(tmp_path)
    record.save([replay_done()])

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        record.save([rebuild_running()])
    monkeypatch.undo()
    assert record.load() == {"chat.timeline": replay_done()}
    assert [p.name for p in tmp_path.iterdir()] == [RECORD_FILE]  # no temporary file left


@pytest.mark.parametrize(
    "content",
    [
        b'{"tasks": [{"name": "chat.rooms", "kind": "rebu',  # torn
        b'{"tasks": [{"name": "chat.rooms", "kind": "explode", "started": "2026-05-01T12:00Z"}]}',
        b'{"tasks": [], "version": 2}',
        b"\x00\x00\x00",
    ],
    ids=["torn", "unknown kind", "another version", "zeroes"],
)
def test_an_unreadable_file_is_moved_aside_and_reads_as_empty(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    (tmp_path / RECORD_FILE).write_bytes(content)
    record = TaskRecordFile(tmp_path)
    with caplog.at_level(logging.WARNING, logger="kiroku.chat"):
        assert record.load() == {}
    (aside,) = tmp_path.glob(f"{RECORD_FILE}.unreadable-*")
    assert aside.read_bytes() == content  # kept for whoever wants to look
    assert not (tmp_path / RECORD_FILE).exists()
    assert "moved aside" in caplog.text
    record.save([rebuild_running()])  # and the next change writes a good one again
    assert record.load() == {"chat.rooms": rebuild_running()}


# -- when OpsTasks writes ----------------------------------------------------------


def progress(position: int, parked: int = 0) -> Progress:
    return Progress("p", position, 10, position, 100.0, None, parked)


async def test_a_task_is_recorded_when_it_starts_and_when_it_ends(tmp_path: Path) -> None:
    record = TaskRecordFile(tmp_path)
    tasks = OpsTasks()
    tasks.keep(record)
    release = asyncio.Event()

    async def work() -> None:
        tasks.progress(progress(4))
        await release.wait()
        tasks.progress(progress(10, parked=1))

    tasks.launch("p", "replay", work, first=3)
    started = record.load()["p"]
    assert (started.kind, started.first, started.ended) == ("replay", 3, None)
    assert started.running
    await asyncio.sleep(0)  # the first progress report
    assert record.load()["p"].progress is None  # reports are not written one by one
    release.set()
    await tasks.tasks["p"]
    ended = record.load()["p"]
    assert ended.state == "done with 1 parked"
    assert ended.progress == progress(10, parked=1)
    assert ended.ended is not None
    assert ended.ended >= ended.started
    assert tasks.info["p"]["state"] == "done with 1 parked"


async def test_a_failure_is_recorded_with_its_error(tmp_path: Path) -> None:
    record = TaskRecordFile(tmp_path)
    tasks = OpsTasks()
    tasks.keep(record)

    async def work() -> None:
        raise RuntimeError("the disk went away")

    tasks.launch("p", "rebuild", work)
    await tasks.tasks["p"]
    failed = record.load()["p"]
    assert (failed.state, failed.error) == ("failed", "RuntimeError: the disk went away")


async def test_a_task_cancelled_by_closing_stays_running_in_the_record(tmp_path: Path) -> None:
    """A shutdown is not an outcome: the next start takes the task up, as after a crash."""
    record = TaskRecordFile(tmp_path)
    tasks = OpsTasks()
    tasks.keep(record)
    told: list[str] = []
    tasks.on_done.append(told.append)
    tasks.launch("p", "rebuild", asyncio.Event().wait)
    await asyncio.sleep(0)
    await tasks.close()
    kept = record.load()["p"]
    assert (kept.state, kept.ended, kept.error) == ("running", None, None)
    assert told == []  # nobody is told it ended
