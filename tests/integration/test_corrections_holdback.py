"""Hold-back consumers on a real SQLite hold store, with time moved by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kiroku.corrections import (
    CompensationWindow,
    EventRetracted,
    HoldBackRunner,
    ManualClock,
    RetractionService,
    SQLiteHoldStore,
)
from kiroku.domain.envelope import Recorded
from kiroku.journal import MemoryJournal
from kiroku.schema import Codec, Registry, event

REG = Registry([EventRetracted])
CODEC = Codec(REG)
T0 = datetime(2030, 1, 1, tzinfo=UTC)
DAY = timedelta(hours=24)


@event("test.hold.Charged", registry=REG)
@dataclass(frozen=True, slots=True)
class Charged:
    amount: int


@event("test.hold.Ignored", registry=REG)
@dataclass(frozen=True, slots=True)
class Ignored:
    note: str


@dataclass
class Payments:
    """A consumer with an irreversible effect, recording what it did."""

    hold: timedelta = DAY
    name: str = "payments"
    handles: tuple[type, ...] = (Charged,)
    acted: list[int] = field(default_factory=list)
    compensated: list[tuple[int, int]] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    async def act(self, event: Recorded[object]) -> None:
        self.acted.append(event.position)
        self.released.set()

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        self.compensated.append((original.position, retraction.position))


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "holds.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[SQLiteHoldStore]:
    s = SQLiteHoldStore(store_path)
    yield s
    s.close()


async def charge(journal: MemoryJournal, stream: str, amount: int, at: datetime = T0) -> int:
    version = await journal.stream_version(stream)
    new = CODEC.encode(Charged(amount), occurred_at=at)
    return (await journal.append(stream, version, [new])).position


def runner(
    consumer: Payments, journal: MemoryJournal, store: SQLiteHoldStore, clock: ManualClock
) -> HoldBackRunner:
    return HoldBackRunner(consumer, journal, CODEC, store, clock=clock, batch_size=2)


async def test_a_retraction_inside_the_window_never_reaches_the_handler(
    store: SQLiteHoldStore,
) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    run = runner(consumer, journal, store, clock)
    bad = await charge(journal, "order-1", 100)
    good = await charge(journal, "order-2", 50)
    await run.step()
    assert consumer.acted == []
    status = await run.status()
    assert (status.held, status.oldest_position, status.next_release_at) == (2, bad, T0 + DAY)
    clock.advance(timedelta(hours=3))
    await RetractionService(journal, clock=clock).retract(bad, reason="double", by="ops")
    await run.step()
    clock.advance(DAY)
    await run.step()
    assert consumer.acted == [good]
    assert consumer.compensated == []
    status = await run.status()
    assert (status.held, status.released, status.retracted) == (0, 1, 1)


async def test_held_events_survive_a_restart_and_are_released_exactly_once(
    store_path: Path,
) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    first = SQLiteHoldStore(store_path)
    pos = await charge(journal, "order-1", 100)
    await runner(consumer, journal, first, clock).step()
    first.close()  # the process goes away while the event is held

    again = SQLiteHoldStore(store_path)
    try:
        run = runner(consumer, journal, again, clock)
        assert (await run.status()).held == 1
        clock.advance(DAY - timedelta(microseconds=1))
        await run.step()
        assert consumer.acted == []
        clock.advance(timedelta(microseconds=1))
        await run.step()
        await run.step()
        clock.advance(DAY)
        await run.step()
        assert consumer.acted == [pos]
        assert (await run.status()).released == 1
    finally:
        again.close()


async def test_only_the_declared_event_types_are_held(store: SQLiteHoldStore) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    await journal.append("order-1", 0, [CODEC.encode(Ignored("n"), occurred_at=T0)])
    run = runner(consumer, journal, store, clock)
    await run.step()
    assert (await run.status()).held == 0
    assert await store.checkpoint("payments") == 1


async def test_a_lagging_consumer_checks_the_journal_before_acting(store: SQLiteHoldStore) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    run = runner(consumer, journal, store, clock)
    pos = await charge(journal, "order-1", 100)
    await run.feed(await journal.read_all(0))
    await RetractionService(journal, clock=clock).retract(pos, reason="bad", by="ops")
    clock.advance(DAY)
    assert await run.release_due() == []  # the retraction was never fed, yet it is honoured
    assert consumer.acted == []
    assert (await run.status()).retracted == 1


async def test_an_acting_consumer_gets_exactly_one_compensation(store: SQLiteHoldStore) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments(hold=timedelta(0))
    run = runner(consumer, journal, store, clock)
    pos = await charge(journal, "order-1", 100)
    await run.step()
    assert consumer.acted == [pos]
    service = RetractionService(journal, clock=clock, witnesses=[store])
    report = await service.retract(pos, reason="bad", by="ops")
    assert report.acted == ("payments",)
    await run.step()
    batch = await journal.read_all(0)
    await run.feed(batch)  # a redelivered retraction changes nothing
    await run.step()
    assert consumer.compensated == [(pos, report.retraction.position)]
    assert (await run.status()).pending_compensations == 0


async def test_a_late_retraction_reports_who_acted_and_compensates_them(
    store: SQLiteHoldStore,
) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    run = runner(consumer, journal, store, clock)
    held_one = await charge(journal, "order-1", 100)
    await run.step()
    clock.advance(DAY + timedelta(hours=1))
    await run.step()
    unreleased = await charge(journal, "order-2", 10, at=clock.now())
    await run.step()
    service = RetractionService(
        journal, clock=clock, witnesses=[store], window=CompensationWindow(DAY)
    )
    report = await service.retract(held_one, reason="fraud", by="ops")
    assert report.late
    assert [(x.consumer, x.outcome) for x in report.blast_radius] == [("payments", "acted")]
    early = await service.retract(unreleased, reason="dup", by="ops")
    assert not early.late
    assert [(x.consumer, x.outcome) for x in early.blast_radius] == [("payments", "held")]
    await run.step()
    assert consumer.compensated == [(held_one, report.retraction.position)]
    assert consumer.acted == [held_one]


async def test_the_scheduler_sleeps_until_the_release_time_then_acts(
    store: SQLiteHoldStore,
) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    run = runner(consumer, journal, store, clock)
    task = asyncio.create_task(run.run())
    try:
        pos = await charge(journal, "order-1", 100)
        for _ in range(200):  # wait for the push-driven feed, bounded
            if (await run.status()).held == 1:
                break
            await asyncio.sleep(0.005)
        assert (await run.status()).held == 1
        clock.advance(DAY)
        await asyncio.wait_for(consumer.released.wait(), 5)
        assert consumer.acted == [pos]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@dataclass
class Failing(Payments):
    failures: int = 1

    async def act(self, event: Recorded[object]) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError(f"gateway down for position {event.position}")
        await super().act(event)


async def test_a_failing_effect_stops_the_run_and_is_retried_not_skipped(
    store: SQLiteHoldStore,
) -> None:
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Failing()
    run = runner(consumer, journal, store, clock)
    pos = await charge(journal, "order-1", 100)
    clock.advance(DAY)
    with pytest.raises(RuntimeError, match=f"gateway down for position {pos}"):
        await run.run()
    assert (await run.status()).held == 1
    await run.step()
    assert consumer.acted == [pos]
