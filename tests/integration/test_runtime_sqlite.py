"""The runtime on real SQLite files: group commit, restarts, two writers, retention."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from kiroku import Codec, Decider, DomainError, Registry, Retention, Runtime, event
from kiroku.journal.sqlite import SQLiteJournal

REGISTRY = Registry()


@event("it.tally.Started", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Started:
    name: str


@event("it.tally.Added", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Added:
    amount: int


@dataclass(frozen=True, slots=True)
class Start:
    name: str


@dataclass(frozen=True, slots=True)
class Add:
    amount: int


@dataclass(frozen=True, slots=True)
class Tally:
    name: str = ""
    total: int = 0
    adds: int = 0


class NotStartedError(DomainError):
    pass


class TallyDecider(Decider[Tally, Start | Add, Started | Added]):
    category = "tally"
    initial = Tally()

    def decide(self, command: Start | Add, state: Tally) -> Sequence[Started | Added]:
        if isinstance(command, Start):
            return [] if state.name else [Started(command.name)]
        if not state.name:
            raise NotStartedError("add before start")
        return [Added(command.amount)]

    def evolve(self, state: Tally, event: Started | Added) -> Tally:
        if isinstance(event, Started):
            return replace(state, name=event.name)
        return replace(state, total=state.total + event.amount, adds=state.adds + 1)


def runtime_on(journal: SQLiteJournal, **settings: object) -> Runtime:
    return Runtime(journal, [TallyDecider()], codec=Codec(REGISTRY), **settings)  # type: ignore[arg-type]


async def test_many_streams_written_concurrently_are_all_durable(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = await SQLiteJournal.open(path)
    async with runtime_on(journal) as runtime:

        async def caller(n: int) -> None:
            await runtime.execute(TallyDecider, f"t{n}", Start(f"t{n}"))
            for i in range(5):
                await runtime.execute(TallyDecider, f"t{n}", Add(i))

        await asyncio.gather(*(caller(n) for n in range(40)))
    await journal.close()
    reopened = await SQLiteJournal.open(path)
    try:
        assert await reopened.head_position() == 40 * 6
        for n in range(40):
            events = await reopened.read_stream(f"tally-t{n}")
            assert [e.version for e in events] == list(range(1, 7))
        async with runtime_on(reopened) as restarted:
            assert await restarted.state(TallyDecider, "t7") == Tally("t7", 10, 5)
    finally:
        await reopened.close()


async def test_a_rejection_on_sqlite_appends_nothing(tmp_path: Path) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        async with runtime_on(journal) as runtime:
            with pytest.raises(NotStartedError, match="add before start"):
                await runtime.execute(TallyDecider, "t1", Add(1))
        assert await journal.head_position() == 0
    finally:
        await journal.close()


async def test_idempotency_keys_survive_closing_and_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = await SQLiteJournal.open(path)
    async with runtime_on(journal) as runtime:
        await runtime.execute(TallyDecider, "t1", Start("t1"))
        first = await runtime.execute(TallyDecider, "t1", Add(5), idempotency_key="pay-1")
    await journal.close()
    journal = await SQLiteJournal.open(path)
    try:
        async with runtime_on(journal) as runtime:
            again = await runtime.execute(TallyDecider, "t1", Add(5), idempotency_key="pay-1")
        assert again == replace(first, duplicate=True)
        assert await journal.stream_version("tally-t1") == 2
    finally:
        await journal.close()


@pytest.mark.parametrize("max_batch", [1, 64])
async def test_two_runtimes_on_one_file_race_and_retry_without_a_gap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, max_batch: int
) -> None:
    """Two processes' worth of writers: each loses some appends, reloads and re-decides.

    One command per append makes the race certain; with batching each runtime
    may write its 30 commands in so few appends that neither loses a race.
    """
    path = tmp_path / "journal.db"
    first_journal = await SQLiteJournal.open(path)
    second_journal = await SQLiteJournal.open(path)
    try:
        async with (
            runtime_on(first_journal, max_retries=50, max_batch=max_batch) as one,
            runtime_on(second_journal, max_retries=50, max_batch=max_batch) as two,
        ):
            await one.execute(TallyDecider, "t1", Start("shared"))
            caplog.set_level(logging.INFO, logger="kiroku.runtime")
            await asyncio.gather(
                *(one.execute(TallyDecider, "t1", Add(1)) for _ in range(30)),
                *(two.execute(TallyDecider, "t1", Add(1)) for _ in range(30)),
            )
            final = await one.state_at(TallyDecider, "t1")
        events = await first_journal.read_stream("tally-t1")
        assert [e.version for e in events] == list(range(1, 62))
        assert final == Tally("shared", 60, 60)
        if max_batch == 1:
            assert "Wrong expected version" in caplog.text  # the retry path was really taken
    finally:
        await first_journal.close()
        await second_journal.close()


async def test_snapshots_and_retention_on_sqlite(tmp_path: Path) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        async with runtime_on(journal, snapshot_every=10, retention=Retention(keep=2)) as runtime:
            await runtime.execute(TallyDecider, "t1", Start("t1"))
            for i in range(24):
                await runtime.execute(TallyDecider, "t1", Add(i), idempotency_key=f"k{i}")
        snapshot = await journal.load_snapshot("tally-t1")
        assert snapshot is not None
        assert snapshot.version == 20
        remaining = [e.version for e in await journal.read_stream("tally-t1")]
        assert remaining == list(range(19, 26))
        async with runtime_on(journal, snapshot_every=10) as restarted:
            assert await restarted.state(TallyDecider, "t1") == Tally("t1", sum(range(24)), 24)
            replay = await restarted.execute(TallyDecider, "t1", Add(3), idempotency_key="k3")
        assert replay.duplicate
        assert replay.version == 5
        assert await journal.stream_version("tally-t1") == 25
    finally:
        await journal.close()
