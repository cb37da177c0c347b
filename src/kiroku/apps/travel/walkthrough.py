"""A booking, a mistaken booking, its retraction inside the window, and the
payment that was never charged — on real SQLite files, with time moved by hand.

Run it with ``python -m kiroku.apps.travel.walkthrough [DATA_DIR]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kiroku import JSON, Codec
from kiroku.apps.travel.events import REGISTRY, BusLeg, Flight, HotelStay, Option
from kiroku.apps.travel.invoice import COLLECTION, InvoiceProjection
from kiroku.apps.travel.payments import FakePaymentGateway, Movement, PaymentConsumer
from kiroku.apps.travel.reservation import (
    AmendReservation,
    BookReservation,
    Itinerary,
    Reservation,
)
from kiroku.corrections import (
    DEFAULT_WINDOW,
    CompensationWindow,
    HoldBackRunner,
    LedgerWitness,
    ManualClock,
    RetractionReport,
    RetractionService,
    SQLiteHoldStore,
)
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import LedgerEntry, ProjectionHost
from kiroku.runtime import Runtime

__all__ = ["Outcome", "main", "walkthrough"]

Say = Callable[[str], None]

TRIP = Itinerary(
    flights=(Flight("KR101", "HND", "CTS", "2030-02-01", 32_000),),
    hotels=(HotelStay("Hotel Yuki", "Sapporo", "2030-02-01", 3, 54_000),),
    bus_legs=(BusLeg("Chuo Bus 7", "CTS", "Sapporo", "2030-02-01", 1_100),),
    options=(Option("ski-pass", "3-day ski pass", 15_000),),
)
WITH_ONSEN = Itinerary(
    TRIP.flights, TRIP.hotels, TRIP.bus_legs,
    (*TRIP.options, Option("onsen", "Onsen day ticket", 2_500)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the walkthrough ends with, for its test."""

    movements: tuple[Movement, ...]
    invoices: dict[str, dict[str, JSON]]
    retraction: RetractionReport
    released: int


async def walkthrough(data_dir: Path, say: Say = print) -> Outcome:
    codec = Codec(REGISTRY)
    clock = ManualClock(datetime.now(UTC))
    gateway = FakePaymentGateway()
    journal = await SQLiteJournal.open(data_dir / "journal.db")
    holds = SQLiteHoldStore(data_dir / "holds.db")
    host = ProjectionHost(journal, [InvoiceProjection()], data_dir / "read", codec=codec)
    payments = HoldBackRunner(PaymentConsumer(gateway), journal, codec, holds, clock=clock)
    try:
        async with Runtime(journal, [Reservation], codec=codec) as runtime:
            return await _story(runtime, journal, host, payments, holds, clock, gateway, say)
    finally:
        await host.close()
        holds.close()
        await journal.close()


async def _story(
    runtime: Runtime, journal: SQLiteJournal, host: ProjectionHost, payments: HoldBackRunner,
    holds: SQLiteHoldStore, clock: ManualClock, gateway: FakePaymentGateway, say: Say,
) -> Outcome:  # fmt: skip
    say(f"1. Alice books a trip to Sapporo: one ReservationBooked, total {TRIP.total:,}.")
    await runtime.execute(Reservation, "alice-1", BookReservation("alice", "JPY", TRIP))
    say("2. A faulty import books the same trip for Bob, who never asked for it.")
    bad = await runtime.execute(Reservation, "bob-1", BookReservation("bob", "JPY", TRIP))
    say(f"3. Alice adds an onsen ticket: ReservationAmended, new total {WITH_ONSEN.total:,}.")
    await runtime.execute(Reservation, "alice-1", AmendReservation(WITH_ONSEN))
    await host.catch_up()
    await payments.step()
    status = await payments.status()
    when = status.next_release_at
    say(f"   payments holds {status.held} events; the first is released at {when}.")
    say(f"   charged so far: {gateway.movements or 'nothing'}")

    clock.advance(timedelta(hours=2))
    say("4. Two hours later an operator retracts Bob's booking, inside the 24 h window.")
    service = RetractionService(
        journal, clock=clock, window=CompensationWindow(DEFAULT_WINDOW),
        witnesses=[holds, LedgerWitness(lambda p: _ledger(host, p))],
    )  # fmt: skip
    report = await service.retract(bad.position, reason="imported twice by mistake", by="ops")
    radius = ", ".join(f"{x.consumer} ({x.outcome})" for x in report.blast_radius)
    say(f"   retraction at position {report.retraction.position}; late={report.late}; "
        f"blast radius: {radius}")  # fmt: skip
    await host.catch_up()
    await payments.step()

    clock.advance(DEFAULT_WINDOW)
    say("5. The window passes. Held events are released to the payment consumer.")
    await payments.step()
    for m in gateway.movements:
        say(f"   charged {m.reservation_id}: {m.amount:,} {m.currency}")
    invoices = {rid: await _invoice(host, rid) for rid in ("alice-1", "bob-1")}
    for rid, doc in invoices.items():
        say(f"6. invoice {rid}: status {doc.get('status')}, total {doc.get('total')}")
    say("Bob was never charged; Alice paid once for her trip and once for the onsen ticket.")
    final = await payments.status()
    return Outcome(tuple(gateway.movements), invoices, report, final.released)


async def _ledger(host: ProjectionHost, position: int) -> list[LedgerEntry]:
    return (await host.ledger(position))[1]


async def _invoice(host: ProjectionHost, reservation_id: str) -> dict[str, JSON]:
    doc = await host.reader(InvoiceProjection.name).collection(COLLECTION).get(reservation_id)
    return doc or {}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args:
        path = Path(args[0])
        path.mkdir(parents=True, exist_ok=True)
        asyncio.run(walkthrough(path))
        return
    with tempfile.TemporaryDirectory(prefix="kiroku-travel-") as tmp:
        asyncio.run(walkthrough(Path(tmp)))


if __name__ == "__main__":
    main()
