"""The travel example end to end: walkthrough, payments, invoices, on real SQLite files."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kits.hosts import caught_up

from kiroku import Codec, MemoryJournal
from kiroku.apps.travel import (
    REGISTRY,
    AmendReservation,
    BookReservation,
    CancelReservation,
    FakePaymentGateway,
    Flight,
    InvoiceProjection,
    Itinerary,
    Option,
    PaymentConsumer,
    Reservation,
)
from kiroku.apps.travel.events import ReservationEvent
from kiroku.apps.travel.invoice import COLLECTION
from kiroku.apps.travel.walkthrough import walkthrough
from kiroku.corrections import (
    HoldBackRunner,
    ManualClock,
    RetractionService,
    SQLiteHoldStore,
    exclude_retracted,
)
from kiroku.runtime import Runtime

CODEC = Codec(REGISTRY)
DAY = timedelta(hours=24)


def trip(*prices: int) -> Itinerary:
    flights = (Flight("KR1", "HND", "ITM", "2030-01-02", prices[0]),)
    return Itinerary(
        flights, options=tuple(Option(f"o{i}", "opt", p) for i, p in enumerate(prices[1:]))
    )


async def test_the_walkthrough_tells_its_story(tmp_path: Path) -> None:
    lines: list[str] = []
    outcome = await walkthrough(tmp_path, lines.append)
    assert [(m.reservation_id, m.amount) for m in outcome.movements] == [
        ("alice-1", 102_100),
        ("alice-1", 2_500),
    ]
    assert not outcome.retraction.late
    assert [(x.consumer, x.outcome) for x in outcome.retraction.blast_radius] == [
        ("travel.invoices", "processed"),
        ("travel.payments", "held"),
    ]
    assert outcome.invoices["alice-1"]["total"] == 104_600
    assert outcome.invoices["alice-1"]["status"] == "open"
    assert outcome.invoices["bob-1"]["status"] == "void"
    assert outcome.released == 2
    assert any("Bob was never charged" in line for line in lines)


async def test_a_late_retraction_of_a_charged_booking_is_refunded_once(tmp_path: Path) -> None:
    journal, clock, gateway = MemoryJournal(), ManualClock(datetime.now(UTC)), FakePaymentGateway()
    holds = SQLiteHoldStore(tmp_path / "holds.db")
    payments = HoldBackRunner(
        PaymentConsumer(gateway, hold=DAY), journal, CODEC, holds, clock=clock
    )
    try:
        async with Runtime(journal, [Reservation], codec=CODEC) as runtime:
            booked = await runtime.execute(
                Reservation, "r1", BookReservation("ann", "EUR", trip(500))
            )
        await payments.step()
        clock.advance(DAY + timedelta(minutes=1))
        await payments.step()
        assert gateway.balance("r1") == 500
        report = await RetractionService(journal, clock=clock, witnesses=[holds]).retract(
            booked.position, reason="card fraud", by="risk"
        )
        assert report.late
        assert report.acted == ("travel.payments",)
        await payments.step()
        await payments.step()
        assert gateway.balance("r1") == 0
        assert [m.amount for m in gateway.movements] == [500, -500]
    finally:
        holds.close()


async def test_a_cancellation_refunds_what_was_charged(tmp_path: Path) -> None:
    journal, clock, gateway = MemoryJournal(), ManualClock(datetime.now(UTC)), FakePaymentGateway()
    holds = SQLiteHoldStore(tmp_path / "holds.db")
    payments = HoldBackRunner(
        PaymentConsumer(gateway, hold=DAY), journal, CODEC, holds, clock=clock
    )
    try:
        async with Runtime(journal, [Reservation], codec=CODEC) as runtime:
            await runtime.execute(Reservation, "r1", BookReservation("ann", "EUR", trip(500, 70)))
            await runtime.execute(Reservation, "r1", AmendReservation(trip(500)))
            await runtime.execute(Reservation, "r1", CancelReservation("ill"))
        clock.advance(DAY + timedelta(minutes=1))  # events carry the wall time they occurred at
        await payments.step()
        assert [m.amount for m in gateway.movements] == [570, -70, -500]
    finally:
        holds.close()


amendments = st.lists(st.lists(st.integers(1, 9_999), min_size=1, max_size=3), max_size=4)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(amendments, st.data())
async def test_invoice_totals_match_the_reservation_and_survive_retractions_and_rebuilds(
    tmp_path: Path, plan: list[list[int]], data: st.DataObject
) -> None:
    journal = MemoryJournal()
    async with Runtime(journal, [Reservation], codec=CODEC) as runtime:
        await runtime.execute(Reservation, "r1", BookReservation("ann", "EUR", trip(100, 5)))
        for prices in plan:
            await runtime.execute(Reservation, "r1", AmendReservation(trip(*prices)))
    stream = await journal.read_stream("reservation-r1")
    voided = data.draw(st.sets(st.sampled_from([e.position for e in stream])))
    service = RetractionService(journal)
    for position in sorted(voided):
        await service.retract(position, reason="test", by="hypothesis")
    kept = exclude_retracted(await journal.read_stream("reservation-r1"))
    expected = Reservation().fold(cast(ReservationEvent, CODEC.decode(e).data) for e in kept)
    folder = tmp_path / f"read-{uuid.uuid4().hex}"  # one fresh read store per example
    async with caught_up(journal, InvoiceProjection(), data=folder, codec=CODEC) as host:
        live = await host.reader(InvoiceProjection.name).collection(COLLECTION).get("r1")
        await host.rebuild(InvoiceProjection.name)
        rebuilt = await host.reader(InvoiceProjection.name).collection(COLLECTION).get("r1")
    assert live == rebuilt
    assert live is not None
    total = expected.itinerary.total if expected.status == "booked" else 0
    assert live["total"] == total
    lines = live["lines"]
    assert isinstance(lines, list)
    if expected.status == "booked":
        assert sum(line["amount"] for line in lines if isinstance(line, dict)) == total  # type: ignore[misc]
