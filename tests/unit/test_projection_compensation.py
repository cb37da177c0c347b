"""Projections compensating retractions: by handler (exactly once) or by rebuild."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from kits.hosts import HostMaker
from kits.till import CODEC, Noted, Sold, Total, sell, total

from kiroku import MemoryJournal, Recorded
from kiroku.corrections import (
    CompensationWindow,
    EventRetracted,
    ManualClock,
    RetractionService,
    UnretractedSource,
    handles_retraction,
)
from kiroku.errors import RegistrationError
from kiroku.projections import (
    Outcome,
    Projection,
    ProjectionHost,
    ProjectionRunner,
    ProjectionStore,
    Tx,
    handles,
)


class Sales(Projection):
    """Undoes a retracted sale in its own transaction; counts each undo."""

    name: ClassVar[str] = "sales"

    def __init__(self) -> None:
        self.undone: list[int] = []

    @handles(Sold)
    async def sold(self, tx: Tx, r: Recorded[Sold]) -> None:
        await tx.collection("sales").put(str(r.position), {"amount": r.data.amount})

    @handles_retraction
    async def undo(
        self, tx: Tx, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        assert isinstance(original.data, Sold)
        assert retraction.data.retracted_position == original.position
        self.undone.append(original.position)
        await tx.collection("sales").delete(str(original.position))


def retractions(journal: MemoryJournal, host: ProjectionHost | None = None) -> RetractionService:
    return RetractionService(
        journal,
        clock=ManualClock(),
        window=CompensationWindow(timedelta(hours=24)),
        listeners=[host.on_retraction] if host is not None else [],
    )


async def amounts(host: ProjectionHost) -> list[object]:
    docs = await host.reader("sales").collection("sales").query(order_by="id")
    return [d["amount"] for d in docs]


async def test_a_retraction_handler_undoes_the_original_exactly_once(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await sell(journal, "till-1", Sold(7))
    sales = Sales()
    host = make_host(journal, sales, codec=CODEC)
    await host.catch_up()
    report = await retractions(journal).retract(wrong, reason="typo", by="ops")
    await host.catch_up()
    await host.catch_up()  # nothing new: no second undo
    assert sales.undone == [wrong]
    assert await amounts(host) == [7]
    _, entries = await host.ledger(report.retraction.position)
    assert [(e.projection, e.outcome) for e in entries] == [("sales", Outcome.APPLIED)]


async def test_a_redelivered_retraction_is_not_compensated_twice(tmp_path: Path) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await retractions(journal).retract(wrong, reason="typo", by="ops")
    sales = Sales()
    store = ProjectionStore(tmp_path / "sales.db", "sales")
    runner = ProjectionRunner(sales, journal, store, codec=CODEC)
    await runner.open()
    batch = await journal.read_all(0, 10)
    await runner.process(batch)
    await runner.process(batch)  # at-least-once delivery
    assert sales.undone == [wrong]
    assert runner.duplicates == 2
    store.close()


async def test_a_retraction_of_a_type_never_taken_calls_no_handler(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    note = await sell(journal, "till-1", Noted("hello"))
    sales = Sales()
    host = make_host(journal, sales, codec=CODEC)
    await host.catch_up()
    await retractions(journal).retract(note, reason="spam", by="ops")
    await host.catch_up()
    assert sales.undone == []
    assert host.runner("sales").position == 2


def test_a_retraction_handler_and_a_handler_for_retractions_do_not_mix(tmp_path: Path) -> None:
    class Both(Sales):
        name: ClassVar[str] = "both"

        @handles(EventRetracted)
        async def seen(self, tx: Tx, r: Recorded[EventRetracted]) -> None:
            return None

    store = ProjectionStore(tmp_path / "both.db", "both")
    with pytest.raises(RegistrationError, match="declare one"):
        ProjectionRunner(Both(), MemoryJournal(), store, codec=CODEC)
    store.close()


async def test_a_rebuild_compensated_projection_is_rebuilt_without_the_retracted_event(
    make_host: HostMaker,
) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await sell(journal, "till-2", Sold(7))
    host = make_host(journal, Total(), Sales(), codec=CODEC)
    await host.catch_up()
    assert await total(host) == 507
    generations = host.stores.generation("total"), host.stores.generation("sales")
    await retractions(journal, host).retract(wrong, reason="typo", by="ops")
    assert await total(host) == 7  # the listener rebuilt it from an UnretractedSource
    assert host.stores.generation("total") == generations[0] + 1
    assert host.stores.generation("sales") == generations[1]  # compensated by its handler
    await sell(journal, "till-1", Sold(1))
    await host.catch_up()
    assert await total(host) == 8


async def test_run_to_the_head_reads_from_the_source_given(tmp_path: Path) -> None:
    journal = MemoryJournal()
    wrong = await sell(journal, "till-1", Sold(500))
    await sell(journal, "till-1", Sold(7))
    await retractions(journal).retract(wrong, reason="typo", by="ops")
    store = ProjectionStore(tmp_path / "total.db", "total")
    runner = ProjectionRunner(Total(), journal, store, codec=CODEC)
    await runner.run(follow=False, source=UnretractedSource(journal))
    assert runner.position == 3
    doc = await store.reader().collection("total").get("all")
    assert doc == {"total": 7}
    store.close()
