"""The runner: batches, checkpoints, read-your-writes, status, listeners."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from kits.domain import CODEC, Boards, Counts, Ignored, Noted, Opened, append
from kits.hosts import HostMaker

from kiroku import MemoryJournal, ReadStoreError, StoredEvent, WaitTimeoutError
from kiroku.projections import (
    BatchCommitted,
    Outcome,
    ProjectionRunner,
    ProjectionStore,
    RunnerState,
    ledger,
)


def runner_for(tmp_path: Path, journal: MemoryJournal, batch_size: int = 1000) -> ProjectionRunner:
    store = ProjectionStore(tmp_path / "boards.db", Boards.name)
    return ProjectionRunner(Boards(), journal, store, codec=CODEC, batch_size=batch_size)


async def test_a_running_runner_follows_appends_and_serves_reads(tmp_path: Path) -> None:
    journal = MemoryJournal()
    runner = runner_for(tmp_path, journal)
    await runner.start()
    await append(journal, "board-1", Opened("plans"))
    position = await append(journal, "board-1", Noted("buy milk", 2))
    await runner.wait_for(position, timeout=5)
    doc = await runner.store.reader().collection("boards").get("1")
    assert doc == {"title": "plans", "notes": ["buy milk"], "total": 2, "version": 2}
    status = await runner.status()
    assert (status.position, status.lag_events, status.parked) == (position, 0, 0)
    assert status.state in (RunnerState.RUNNING, RunnerState.CATCHING_UP)
    await runner.stop()
    assert runner.state is RunnerState.STOPPED


async def test_the_checkpoint_survives_a_restart_and_nothing_is_applied_twice(
    tmp_path: Path,
) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("one"), Noted("two"))
    first = runner_for(tmp_path, journal)
    await first.run(follow=False)
    first.store.close()
    await append(journal, "board-1", Noted("three"))
    second = runner_for(tmp_path, journal)
    await second.open()
    assert second.position == 3
    await second.run(follow=False)
    doc = await second.store.reader().collection("boards").get("1")
    assert doc is not None
    assert doc["notes"] == ["one", "two", "three"]


async def test_events_of_unhandled_types_advance_the_checkpoint(tmp_path: Path) -> None:
    journal = MemoryJournal()
    position = await append(journal, "board-1", Ignored("x"), Ignored("y"))
    runner = runner_for(tmp_path, journal)
    await runner.run(follow=False)
    assert runner.position == position
    assert await runner.store.reader().collection("boards").count() == 0


async def test_wait_for_times_out_with_the_position_reached(tmp_path: Path) -> None:
    journal = MemoryJournal()
    runner = runner_for(tmp_path, journal)
    await runner.open()
    with pytest.raises(WaitTimeoutError, match="did not reach position 5") as caught:
        await runner.wait_for(5, timeout=0.05)
    assert isinstance(caught.value, TimeoutError)


async def test_listeners_hear_each_committed_batch(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    heard: list[BatchCommitted] = []
    host = make_host(journal, Boards(), Counts())
    host.listeners.append(heard.append)
    await host.start()
    position = await append(journal, "board-7", Opened("t"), Noted("n"))
    await host.wait_for(position)
    by_name = {h.projection: h for h in heard}
    assert set(by_name) == {"test.boards", "test.counts"}
    assert by_name["test.boards"].streams == ("board-7",)
    assert by_name["test.boards"].last_position == position
    assert by_name["test.boards"].applied == 2
    assert by_name["test.counts"].applied == 1


async def test_small_batches_give_the_same_result_as_one_big_batch(tmp_path: Path) -> None:
    journal = MemoryJournal()
    for i in range(20):
        await append(journal, f"board-{i % 3}", Opened(str(i)) if i < 3 else Noted(str(i), i))
    small = runner_for(tmp_path / "small", journal, batch_size=2)
    big = runner_for(tmp_path / "big", journal)
    await small.run(follow=False)
    await big.run(follow=False)
    assert small.batch == 10
    assert big.batch == 1
    small_docs = await small.store.reader().collection("boards").query()
    assert small_docs == await big.store.reader().collection("boards").query()


async def test_a_locked_store_is_a_clear_error_and_the_checkpoint_stays(tmp_path: Path) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"))
    store = ProjectionStore(tmp_path / "boards.db", Boards.name, busy_timeout=0.05)
    runner = ProjectionRunner(Boards(), journal, store, codec=CODEC)
    await runner.open()
    other = sqlite3.connect(tmp_path / "boards.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ReadStoreError, match=r"test\.boards.*locked"):
            await runner.run(follow=False)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert runner.state is RunnerState.FAILED
    assert store.rows("SELECT position FROM kiroku_checkpoint") == []
    await runner.run(follow=False)  # the lock is gone: it proceeds from where it was
    assert runner.position == 1


async def test_reads_are_not_blocked_while_a_batch_is_being_written(tmp_path: Path) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"))
    runner = runner_for(tmp_path, journal)
    await runner.run(follow=False)
    reader = runner.store.reader()
    async with runner.store.transaction() as tx:
        await tx.collection("boards").put("1", {"title": "uncommitted"})
        doc = await asyncio.wait_for(reader.collection("boards").get("1"), 1)
        assert doc is not None
        assert doc["title"] == "a"


class Twice:
    """Delivers every journal batch twice, as a bus with redelivery would."""

    def __init__(self, journal: MemoryJournal) -> None:
        self.journal = journal

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        batch = await self.journal.read_all(after, 2)
        while batch:
            yield batch
            yield batch
            batch = await self.journal.read_all(batch[-1].position, 2)


async def test_redelivered_batches_are_skipped_counted_and_do_not_hide_the_first(
    tmp_path: Path,
) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("x", 5), Noted("y", 7))
    store = ProjectionStore(tmp_path / "b.db", Boards.name)
    runner = ProjectionRunner(Boards(), journal, store, codec=CODEC, source=Twice(journal))
    await runner.run()
    doc = await store.reader().collection("boards").get("1")
    assert doc is not None
    assert (doc["notes"], doc["total"]) == (["x", "y"], 12)
    assert runner.duplicates == 3
    outcomes = [ledger.ledger_lookup(store.conn, runner.name, p) for p in (1, 2, 3)]
    assert [(e.outcome, e.batch) for e in outcomes if e] == [
        (Outcome.APPLIED, 1),
        (Outcome.APPLIED, 1),
        (Outcome.APPLIED, 3),
    ]


async def test_a_full_store_is_a_clear_error_and_nothing_is_parked(tmp_path: Path) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"))
    runner = runner_for(tmp_path, journal)
    await runner.run(follow=False)
    for i in range(300):
        await append(journal, f"board-{i + 2}", Opened("x" * 2000))
    pages = runner.store.rows("PRAGMA page_count")[0][0]
    runner.store.rows(f"PRAGMA max_page_count = {pages}")  # the disk is full from here on
    with pytest.raises(ReadStoreError, match="full"):
        await runner.run(follow=False)
    assert runner.store.rows("SELECT position FROM kiroku_checkpoint") == [(1,)]
    assert runner.store.rows("SELECT count(*) FROM kiroku_parked") == [(0,)]
