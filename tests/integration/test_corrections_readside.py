"""Retractions on the read side: the ledger's blast radius, compensating handlers,
and rebuilds that exclude retracted events — with the real projection runner."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
from kits.hosts import HostMaker
from kits.till import CODEC, Noted, Sold

from kiroku import JSON, MemoryJournal, Recorded
from kiroku.corrections import (
    VOIDED_TYPE,
    EventRetracted,
    LedgerWitness,
    RetractionService,
    SQLiteHoldStore,
    UnretractedSource,
)
from kiroku.projections import (
    LedgerEntry,
    Projection,
    ProjectionHost,
    ProjectionRunner,
    ProjectionStore,
    Tx,
    handles,
)


class Revenue(Projection):
    """Undoes a retracted sale with its own handler (compensation by handler)."""

    name: ClassVar[str] = "revenue"

    @handles(Sold)
    async def sold(self, tx: Tx, r: Recorded[Sold]) -> None:
        await tx.collection("sales").put(str(r.position), {"amount": r.data.amount})

    @handles(EventRetracted)
    async def retracted(self, tx: Tx, r: Recorded[EventRetracted]) -> None:
        await tx.collection("sales").delete(str(r.data.retracted_position))


class Tally(Projection):
    """No retraction handler: compensated by a rebuild that excludes retracted events."""

    name: ClassVar[str] = "tally"
    on_retraction = "rebuild"

    @handles(Sold)
    async def sold(self, tx: Tx, r: Recorded[Sold]) -> None:
        col = tx.collection("tally")
        doc = await col.get("all") or {"total": 0}
        total = doc["total"]
        assert isinstance(total, int)
        await col.put("all", {"total": total + r.data.amount})


class Notes(Projection):
    """Never subscribed to sales: outside any sale's blast radius."""

    name: ClassVar[str] = "notes"

    @handles(Noted)
    async def noted(self, tx: Tx, r: Recorded[Noted]) -> None:
        await tx.collection("notes").put(str(r.position), {"text": r.data.text})


async def sell(journal: MemoryJournal, stream: str, amount: int) -> int:
    new = CODEC.encode(Sold(amount))
    return (await journal.append(stream, await journal.stream_version(stream), [new])).position


async def amounts(host: ProjectionHost) -> list[JSON]:
    docs = await host.reader("revenue").collection("sales").query(order_by="amount")
    return [d["amount"] for d in docs]


@pytest.fixture
async def host(make_host: HostMaker) -> ProjectionHost:
    return make_host(MemoryJournal(), Revenue(), Tally(), Notes(), codec=CODEC)


async def test_the_ledger_lists_the_blast_radius_exactly(
    host: ProjectionHost, tmp_path: Path
) -> None:
    journal = host.journal
    assert isinstance(journal, MemoryJournal)
    await journal.append("note-1", 0, [CODEC.encode(Noted("hello"))])
    bad = await sell(journal, "till-1", 70)
    await host.catch_up(["revenue", "tally", "notes"])
    holds = SQLiteHoldStore(tmp_path / "holds.db")

    async def ledger(position: int) -> list[LedgerEntry]:
        return (await host.ledger(position))[1]

    try:
        report = await RetractionService(journal, witnesses=[LedgerWitness(ledger), holds]).retract(
            bad, reason="test sale", by="ops"
        )
    finally:
        holds.close()
        await host.close()
    assert [(x.consumer, x.outcome) for x in report.blast_radius] == [
        ("revenue", "processed"),
        ("tally", "processed"),
    ]
    assert report.acted == ("revenue", "tally")


async def test_a_handler_compensates_once_and_a_rebuild_agrees(host: ProjectionHost) -> None:
    journal = host.journal
    assert isinstance(journal, MemoryJournal)
    keep = await sell(journal, "till-1", 30)
    bad = await sell(journal, "till-1", 70)
    await host.catch_up()
    assert await amounts(host) == [30, 70]
    await RetractionService(journal).retract(bad, reason="test sale", by="ops")
    await host.catch_up()
    await host.catch_up()  # a second pass delivers nothing twice
    assert await amounts(host) == [30]
    await host.rebuild("revenue")
    assert await amounts(host) == [30]
    entries = {e.projection: e.outcome for e in (await host.ledger(keep))[1]}
    assert entries == {"notes": "not-subscribed", "revenue": "applied", "tally": "applied"}
    await host.close()


async def test_a_rebuild_from_an_unretracted_source_excludes_retracted_events(
    host: ProjectionHost, tmp_path: Path
) -> None:
    journal = host.journal
    assert isinstance(journal, MemoryJournal)
    await sell(journal, "till-1", 30)
    bad = await sell(journal, "till-1", 70)
    await sell(journal, "till-1", 5)
    host.on_rebuild_needed = lambda name: None  # leave the rebuild to this test
    await RetractionService(journal).retract(bad, reason="test sale", by="ops")
    await host.catch_up(["tally"])
    stale = await host.reader("tally").collection("tally").get("all")
    pending = host.rebuild_pending("tally")
    await host.close()
    assert stale == {"total": 105}  # no handler: the live tally still counts the sale
    assert pending  # until it is rebuilt

    store = ProjectionStore(tmp_path / "tally-rebuilt.db", "tally")
    runner = ProjectionRunner(
        Tally(), journal, store, codec=CODEC, source=UnretractedSource(journal)
    )
    try:
        await runner.open()
        await runner.run()  # the source is finite: it ends at the head, and so does the run
        assert await store.reader().collection("tally").get("all") == {"total": 35}
        assert runner.position == await journal.head_position()
    finally:
        store.close()


async def test_masked_events_keep_their_place_in_the_stream() -> None:
    journal = MemoryJournal()
    first = await sell(journal, "till-1", 1)
    await RetractionService(journal).retract(first, reason="r", by="me")
    batches = [b async for b in UnretractedSource(journal, batch_size=1).batches(0)]
    events = [e for b in batches for e in b]
    assert [(e.version, e.type) for e in events] == [(1, VOIDED_TYPE), (2, "kiroku.EventRetracted")]
    assert events[0].event_id == (await journal.get_event(first)).event_id
    assert events[0].occurred_at <= datetime.now(UTC)
