"""The invoice read model: one document per reservation, totals never double-counted.

Every booking or amendment carries the whole itinerary, so the invoice's lines
and total are *replaced* by the latest one, never added to. The document also
keeps each contributing event (by position), which is what makes a retraction
easy to honour: drop that entry and recompute from the rest. The projection
handles ``EventRetracted`` like any other event, so a rebuild — originals and
retractions replayed in order — ends exactly where live processing did.
"""

from __future__ import annotations

from typing import ClassVar

from kiroku import JSON, Recorded
from kiroku.apps.travel.events import (
    BusLeg,
    Flight,
    HotelStay,
    Option,
    ReservationAmended,
    ReservationBooked,
    ReservationCancelled,
)
from kiroku.corrections import EventRetracted
from kiroku.projections import Projection, Tx, handles

__all__ = ["COLLECTION", "InvoiceProjection", "invoice_lines"]

COLLECTION = "invoices"


def _line(kind: str, label: str, price: int) -> dict[str, JSON]:
    return {"kind": kind, "label": label, "amount": price}


def invoice_lines(
    flights: tuple[Flight, ...],
    hotels: tuple[HotelStay, ...],
    bus_legs: tuple[BusLeg, ...],
    options: tuple[Option, ...],
) -> list[JSON]:
    lines: list[JSON] = [
        _line("flight", f"{f.flight_no} {f.origin}-{f.destination} {f.departs_on}", f.price)
        for f in flights
    ]
    lines += [_line("hotel", f"{h.hotel}, {h.city}, {h.nights} nights", h.price) for h in hotels]
    lines += [
        _line("bus", f"{b.line} {b.origin}-{b.destination} {b.travels_on}", b.price)
        for b in bus_legs
    ]
    lines += [_line("option", o.description, o.price) for o in options]
    return lines


def _entries(doc: dict[str, JSON] | None) -> list[JSON]:
    entries = doc.get("entries") if doc else None
    return list(entries) if isinstance(entries, list) else []


def _summary(
    reservation_id: str, customer: str, currency: str, entries: list[JSON]
) -> dict[str, JSON]:
    """The invoice as the surviving entries say: last itinerary wins, cancel voids."""
    itinerary = [e for e in entries if isinstance(e, dict) and e.get("kind") != "cancelled"]
    cancelled = any(isinstance(e, dict) and e.get("kind") == "cancelled" for e in entries)
    last = itinerary[-1] if itinerary else {}
    lines = last.get("lines", []) if isinstance(last, dict) else []
    total = last.get("total", 0) if isinstance(last, dict) else 0
    status = "void" if not itinerary else ("cancelled" if cancelled else "open")
    return {
        "reservation_id": reservation_id, "customer": customer, "currency": currency,
        "status": status, "lines": lines, "total": 0 if status != "open" else total,
        "entries": entries,
    }  # fmt: skip


class InvoiceProjection(Projection):
    name: ClassVar[str] = "travel.invoices"
    replay_safe: ClassVar[bool] = True  # entries are keyed by position: a redelivery replaces

    async def _record(
        self, tx: Tx, r: Recorded[object], entry: dict[str, JSON], **who: str
    ) -> None:
        invoices = tx.collection(COLLECTION)
        doc = await invoices.get(r.stream_id)
        entries = [
            e
            for e in _entries(doc)
            if not (isinstance(e, dict) and e.get("position") == r.position)
        ]
        entries.append({"position": r.position, **entry})
        customer = who.get("customer") or str((doc or {}).get("customer", ""))
        currency = who.get("currency") or str((doc or {}).get("currency", ""))
        await invoices.put(r.stream_id, _summary(r.stream_id, customer, currency, entries))

    @handles(ReservationBooked)
    async def booked(self, tx: Tx, r: Recorded[ReservationBooked]) -> None:
        b = r.data
        lines = invoice_lines(b.flights, b.hotels, b.bus_legs, b.options)
        entry: dict[str, JSON] = {"kind": "booked", "lines": lines, "total": b.total}
        await self._record(tx, r, entry, customer=b.customer, currency=b.currency)

    @handles(ReservationAmended)
    async def amended(self, tx: Tx, r: Recorded[ReservationAmended]) -> None:
        a = r.data
        lines = invoice_lines(a.flights, a.hotels, a.bus_legs, a.options)
        await self._record(tx, r, {"kind": "amended", "lines": lines, "total": a.total})

    @handles(ReservationCancelled)
    async def cancelled(self, tx: Tx, r: Recorded[ReservationCancelled]) -> None:
        await self._record(tx, r, {"kind": "cancelled", "reason": r.data.reason})

    @handles(EventRetracted)
    async def retracted(self, tx: Tx, r: Recorded[EventRetracted]) -> None:
        """Undo one event's contribution; tolerant of an entry that is not there."""
        invoices = tx.collection(COLLECTION)
        doc = await invoices.get(r.stream_id)
        if doc is None:
            return
        gone = r.data.retracted_position
        entries = [
            e for e in _entries(doc) if not (isinstance(e, dict) and e.get("position") == gone)
        ]
        summary = _summary(
            r.stream_id, str(doc.get("customer", "")), str(doc.get("currency", "")), entries
        )
        await invoices.put(r.stream_id, summary)
