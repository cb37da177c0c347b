"""The travel reservation example: aggregate-root events and a payment that waits.

- ``Reservation`` (category ``reservation``): book, amend, cancel; one
  ``ReservationBooked`` carries flights, hotel stays, bus legs and options.
- ``PaymentConsumer``: a hold-back consumer charging ``FakePaymentGateway``
  only after the compensation window, refunding on a late retraction.
- ``InvoiceProjection``: one invoice per reservation; totals are replaced,
  never summed, and retractions are undone entry by entry.
- ``python -m kiroku.apps.travel.walkthrough``: the whole story in one run.

``TRAVEL`` bundles the parts for ``kiroku catalog --app kiroku.apps.travel:TRAVEL``.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiroku import Registry
from kiroku.apps.travel.events import (
    REGISTRY,
    BusLeg,
    Flight,
    HotelStay,
    Option,
    ReservationAmended,
    ReservationBooked,
    ReservationCancelled,
)
from kiroku.apps.travel.invoice import InvoiceProjection
from kiroku.apps.travel.payments import FakePaymentGateway, Movement, PaymentConsumer
from kiroku.apps.travel.reservation import (
    AmendReservation,
    BookReservation,
    CancelReservation,
    Itinerary,
    Reservation,
    ReservationState,
)

__all__ = [
    "REGISTRY",
    "TRAVEL",
    "AmendReservation",
    "BookReservation",
    "BusLeg",
    "CancelReservation",
    "FakePaymentGateway",
    "Flight",
    "HotelStay",
    "InvoiceProjection",
    "Itinerary",
    "Movement",
    "Option",
    "PaymentConsumer",
    "Reservation",
    "ReservationAmended",
    "ReservationBooked",
    "ReservationCancelled",
    "ReservationState",
    "TravelParts",
]


@dataclass(frozen=True, slots=True)
class TravelParts:
    """What the catalog needs to know about the travel app."""

    registry: Registry
    deciders: tuple[type[Reservation], ...]
    projections: tuple[InvoiceProjection, ...]
    consumers: tuple[PaymentConsumer, ...]


TRAVEL = TravelParts(
    registry=REGISTRY,
    deciders=(Reservation,),
    projections=(InvoiceProjection(),),
    consumers=(PaymentConsumer(FakePaymentGateway()),),
)
