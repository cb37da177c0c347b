"""The operations tasks outlive their process: a replay or rebuild still running
when the process running the projections stopped is taken up at its next start
and ends, the read model then equals one built from scratch, and every last
outcome shows again. Real SQLite journal and read stores, a chat history of a
few thousand events, and small batches so a task is stopped mid-way."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kits.chat_history import conversation
from kits.hosts import caught_up, new_host

from kiroku import JSON, Codec, ProjectionHost
from kiroku.apps.chat import app as chat
from kiroku.apps.chat.http_ops_tasks import OpsTasks, rebuild_when_needed
from kiroku.apps.chat.ops import LocalOperations
from kiroku.apps.chat.ops_record import TaskRecord, TaskRecordFile
from kiroku.corrections import RetractionService
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import Progress
from kiroku.runtime import Runtime
from kiroku.testing.replay import read_model_dump

CODEC = Codec(chat.registry)
BATCH = 50  # a task runs dozens of batches: stopped after its first report, it is mid-way


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
    opened = await SQLiteJournal.open(tmp_path / "journal.db")
    async with Runtime(opened, chat.deciders, codec=CODEC) as runtime:
        await conversation(runtime, seed=11, steps=4000)
    assert await opened.head_position() > 2500
    yield opened
    await opened.close()


class Reporting(OpsTasks):
    """Says when a task first reported progress: the test stops the process there."""

    def __init__(self) -> None:
        super().__init__()
        self.reported = asyncio.Event()

    def progress(self, p: Progress) -> None:
        super().progress(p)
        self.reported.set()


@contextlib.asynccontextmanager
async def life(
    journal: SQLiteJournal, data: Path
) -> AsyncIterator[tuple[ProjectionHost, LocalOperations, Reporting]]:
    """One run of the process that runs the projections, wired as the server wires
    it: started, then the record taken up; at the end its tasks are cancelled and
    the host closed, as at a shutdown."""
    host = new_host(
        journal, *chat.projections, data=data, codec=CODEC, policies=chat.policies,
        batch_size=BATCH,
    )  # fmt: skip
    tasks = Reporting()
    host.on_rebuild_needed = rebuild_when_needed(host, tasks)
    ops = LocalOperations(host, tasks)
    try:
        await host.start()
        await ops.resume(TaskRecordFile(data))
        yield host, ops, tasks
    finally:
        await tasks.close()
        await host.close()


async def task_of(ops: LocalOperations, name: str) -> dict[str, JSON]:
    rows = await ops.projections()
    found = {row["name"]: row["task"] for row in rows if isinstance(row, dict)}[name]
    assert isinstance(found, dict), f"{name} shows no task"
    return found


async def assert_built_from_scratch(host: ProjectionHost, name: str, tmp_path: Path) -> None:
    async with caught_up(
        host.journal, *chat.projections, data=tmp_path / "scratch", codec=CODEC,
        policies=chat.policies,
    ) as fresh:  # fmt: skip
        assert await read_model_dump(host.reader(name)) == await read_model_dump(fresh.reader(name))


async def test_a_replay_stopped_mid_way_is_redone_from_its_first_position(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    data, name = tmp_path / "read", "chat.timeline"
    head = await journal.head_position()
    first = head // 3
    async with life(journal, data) as (host, ops, tasks):
        await host.wait_for(head, timeout=60)
        await ops.replay(name, first)
        await tasks.reported.wait()
        assert tasks.busy(name)
    assert TaskRecordFile(data).load()[name].running  # a stop is not an outcome

    async with life(journal, data) as (host, ops, tasks):
        task = await task_of(ops, name)
        assert (task["kind"], task["state"], task["first"], task["resumed"]) == (
            "replay", "running", first, 1,
        )  # fmt: skip
        await tasks.tasks[name]
        task = await task_of(ops, name)
        assert (task["state"], task["resumed"], task["error"]) == ("done", 1, None)
        assert isinstance(task["progress"], dict)
        assert task["progress"]["position"] == task["progress"]["target"] == head
        await assert_built_from_scratch(host, name, tmp_path)

    async with life(journal, data) as (host, ops, tasks):  # ended: shown, not run again
        assert await task_of(ops, name) == task
        assert not tasks.busy(name)


async def test_a_rebuild_stopped_mid_way_starts_over_and_swaps(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    data, name = tmp_path / "read", "chat.rooms"
    head = await journal.head_position()
    async with life(journal, data) as (host, ops, tasks):
        await host.wait_for(head, timeout=60)
        await ops.rebuild(name)
        await tasks.reported.wait()
        assert tasks.busy(name)
        assert host.stores.generation(name) == 1
    assert (data / "read" / f"{name}.g2.db").exists()  # the shadow it left

    async with life(journal, data) as (host, ops, tasks):
        assert (await task_of(ops, name))["resumed"] == 1
        await tasks.tasks[name]
        task = await task_of(ops, name)
        assert (task["kind"], task["state"], task["resumed"]) == ("rebuild", "done", 1)
        assert isinstance(task["progress"], dict)
        assert task["progress"]["events"] == head  # every event, from 0: the old shadow went
        assert host.stores.generation(name) == 2
        await assert_built_from_scratch(host, name, tmp_path)


async def test_a_retractions_rebuild_is_recorded_and_taken_up(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    """A rebuild a retraction calls for is recorded like an operator's. At the next
    start the store's note launches it again before the record is read: that one
    stands for the recorded task, counted as resumed, and none runs twice."""
    data, name = tmp_path / "read", "chat.rooms"
    events = await journal.read_all(0, 100)
    posted = next(e for e in events if e.type == "chat.MessagePosted")
    async with life(journal, data) as (host, ops, tasks):
        await host.wait_for(await journal.head_position(), timeout=60)
        await RetractionService(journal).retract(posted.position, reason="spam", by="ops")
        await tasks.reported.wait()
        assert tasks.busy(name)
    recorded = TaskRecordFile(data).load()[name]
    assert (recorded.kind, recorded.state) == ("rebuild", "running")

    async with life(journal, data) as (host, ops, tasks):
        assert (await task_of(ops, name))["resumed"] == 1
        await tasks.tasks[name]
        task = await task_of(ops, name)
        assert (task["state"], task["resumed"]) == ("done", 1)
        assert host.stores.generation(name) == 2
        assert not host.rebuild_pending(name)


async def test_a_task_that_cannot_be_taken_up_shows_failed_and_start_up_goes_on(
    journal: SQLiteJournal, tmp_path: Path
) -> None:
    data = tmp_path / "read"
    data.mkdir()
    head = await journal.head_position()
    at = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    ended = TaskRecord(
        name="chat.search", kind="replay", started=at, state="done with 2 parked", first=7,
        ended=at, progress=Progress("chat.search", head, head, head, 900.0, 0.0, 2),
    )  # fmt: skip
    TaskRecordFile(data).save(
        [
            TaskRecord(name="chat.gone", kind="rebuild", started=at),
            TaskRecord(name="chat.timeline", kind="replay", started=at, first=head + 100),
            ended,
        ]
    )
    async with life(journal, data) as (host, ops, tasks):
        timeline = await task_of(ops, "chat.timeline")
        assert timeline["state"] == "failed"
        assert f"Replay position {head + 100} is outside the journal" in str(timeline["error"])
        assert await task_of(ops, "chat.search") == tasks.info_of("chat.search")
        assert TaskRecordFile(data).load()["chat.search"] == ended
        gone = tasks.info_of("chat.gone")
        assert gone["state"] == "failed"
        assert "ProjectionNotFoundError" in str(gone["error"])
        assert not any(tasks.busy(name) for name in host.names)
        await host.wait_for(head, timeout=60)  # the projections run on
    kept = TaskRecordFile(data).load()
    assert {n: t.state for n, t in kept.items()} == {
        "chat.gone": "failed", "chat.search": "done with 2 parked", "chat.timeline": "failed",
    }  # fmt: skip
