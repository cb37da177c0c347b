"""Invariants over random histories: rebuild equals incremental; redelivery is harmless;
the ledger answers exactly."""

from __future__ import annotations

import asyncio
import math
import random
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kits.domain import CODEC, Boards, Counts, Ignored, Noted, Opened, append
from kits.hosts import caught_up

from kiroku import MemoryJournal, Recorded, StoredEvent
from kiroku.projections import (
    Outcome,
    ProjectionRunner,
    ProjectionStore,
    ReadStore,
    Tx,
    handles,
)

Step = tuple[int, str, int]  # stream number, kind, weight
steps = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(["open", "note", "ignored"]), st.integers(0, 9)),
    min_size=1,
    max_size=40,
)
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def as_event(kind: str, weight: int) -> object:
    if kind == "open":
        return Opened(f"t{weight}")
    if kind == "note":
        return Noted(f"n{weight}", weight)
    return Ignored(f"i{weight}")


async def journal_of(history: Sequence[Step]) -> MemoryJournal:
    journal = MemoryJournal()
    for stream, kind, weight in history:
        await append(journal, f"board-{stream}", as_event(kind, weight))
    return journal


async def snapshot(store: ReadStore) -> tuple[object, ...]:
    reader = store.reader()
    boards = await reader.collection("boards").query()
    ids = await reader.collection("boards").ids()
    counts = await reader.query("SELECT * FROM note_counts ORDER BY stream")
    reader.close()
    return ids, boards, counts


class Both(Boards):
    """Boards plus the SQL table of Counts, in one store, to compare both kinds of model."""

    name = "test.both"

    async def setup(self, tx: Tx) -> None:
        await Counts().setup(tx)

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await Boards.noted(self, tx, e)
        await Counts.noted(Counts(), tx, e)


def fresh(tmp: Path, label: str, journal: MemoryJournal, **kw: object) -> ProjectionRunner:
    store = ProjectionStore(tmp / f"{label}.db", Both.name)
    return ProjectionRunner(Both(), journal, store, codec=CODEC, **kw)  # type: ignore[arg-type]


@SETTINGS
@given(history=steps, pauses=st.lists(st.booleans(), min_size=40, max_size=40))
async def test_rebuild_from_zero_equals_incremental_live_processing(
    history: list[Step], pauses: list[bool]
) -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        journal = MemoryJournal()
        live = fresh(tmp, "live", journal, batch_size=3)
        await live.start()
        for (stream, kind, weight), pause in zip(history, pauses, strict=False):
            position = await append(journal, f"board-{stream}", as_event(kind, weight))
            if pause:
                await live.wait_for(position)
        await live.wait_for(await journal.head_position())
        await live.stop()
        rebuilt = fresh(tmp, "rebuilt", journal)
        await rebuilt.run(follow=False)
        assert await snapshot(rebuilt.store) == await snapshot(live.store)


class Redelivery:
    """An at-least-once source: every event, some of them twice, in a shuffled order."""

    def __init__(self, events: Sequence[StoredEvent], seed: int) -> None:
        rng = random.Random(seed)
        deliveries = list(events) + rng.sample(list(events), k=len(events) // 2)
        rng.shuffle(deliveries)
        self.plan: list[list[StoredEvent]] = []
        while deliveries:
            size = rng.randint(1, 5)
            self.plan.append(deliveries[:size])
            deliveries = deliveries[size:]

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        for batch in self.plan:
            await asyncio.sleep(0)
            yield batch


@SETTINGS
@given(history=steps, seed=st.integers(0, 2**32))
async def test_duplicates_and_reorderings_leave_the_read_model_identical(
    history: list[Step], seed: int
) -> None:
    journal = await journal_of(history)
    events = await journal.read_all(0, 10_000)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        clean = fresh(tmp, "clean", journal)
        await clean.run(follow=False)
        messy = fresh(tmp, "messy", journal, source=Redelivery(events, seed))
        await messy.run()
        assert await snapshot(messy.store) == await snapshot(clean.store)
        assert messy.position == events[-1].position
        for event in events:  # every delivered event is accounted for, none lost
            assert await ledger_of(messy, event) is Outcome.APPLIED, event.position


async def ledger_of(runner: ProjectionRunner, event: StoredEvent) -> Outcome | None:
    from kiroku.projections import ledger

    found = ledger.ledger_lookup(runner.store.conn, runner.name, event.position)
    return None if found is None else found.outcome


@SETTINGS
@given(history=steps, batch_size=st.integers(1, 7), data=st.data())
async def test_the_ledger_answers_exactly_for_sampled_events(
    history: list[Step], batch_size: int, data: st.DataObject
) -> None:
    journal = await journal_of(history)
    with tempfile.TemporaryDirectory() as d:
        async with caught_up(journal, Boards(), Counts(), data=d, batch_size=batch_size) as host:
            unreached = await append(journal, "board-9", Noted("late"))
            head = unreached - 1
            sample = data.draw(st.lists(st.integers(1, unreached), max_size=8))
            for position in sample:
                event, entries = await host.ledger(position)
                got = {e.projection: (e.outcome, e.batch) for e in entries}
                batch = math.ceil(position / batch_size)
                expected = {
                    "test.boards": (Outcome.NOT_SUBSCRIBED, None)
                    if event.type == "test.Ignored"
                    else (Outcome.APPLIED, batch),
                    "test.counts": (Outcome.APPLIED, batch)
                    if event.type == "test.Noted"
                    else (Outcome.NOT_SUBSCRIBED, None),
                }
                if position > head:
                    expected = dict.fromkeys(expected, (Outcome.NOT_REACHED, None))
                assert got == expected, position
