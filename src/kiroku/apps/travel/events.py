"""Travel events, centred on the aggregate root (pitfall 4).

There is no FlightBooked, HotelBooked or PackageTourBooked: a reservation is
booked once, as one ``ReservationBooked`` carrying its flights, hotel stays,
bus legs and options as children. Consumers handle one event, in one order,
and a total is the reservation's total — never a sum over sibling events that
might be counted twice. Amounts are integers in minor units (cents). The
reservation's id is not repeated inside the events: it is the stream's id,
which every event's envelope carries (``Recorded.stream_id``).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiroku import Registry, event
from kiroku.corrections import EventRetracted

__all__ = [
    "REGISTRY",
    "BusLeg",
    "Flight",
    "HotelStay",
    "Option",
    "ReservationAmended",
    "ReservationBooked",
    "ReservationCancelled",
    "ReservationEvent",
]

REGISTRY = Registry([EventRetracted])
"""The travel app's event types (and the system retraction event)."""


@dataclass(frozen=True, slots=True)
class Flight:
    flight_no: str
    origin: str
    destination: str
    departs_on: str
    price: int


@dataclass(frozen=True, slots=True)
class HotelStay:
    hotel: str
    city: str
    check_in: str
    nights: int
    price: int


@dataclass(frozen=True, slots=True)
class BusLeg:
    line: str
    origin: str
    destination: str
    travels_on: str
    price: int


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    description: str
    price: int


@event("travel.ReservationBooked", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class ReservationBooked:
    customer: str
    currency: str
    flights: tuple[Flight, ...]
    hotels: tuple[HotelStay, ...]
    bus_legs: tuple[BusLeg, ...]
    options: tuple[Option, ...]
    total: int


@event("travel.ReservationAmended", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class ReservationAmended:
    """The whole new itinerary, not a diff: consumers replace, never add up."""

    flights: tuple[Flight, ...]
    hotels: tuple[HotelStay, ...]
    bus_legs: tuple[BusLeg, ...]
    options: tuple[Option, ...]
    total: int
    previous_total: int


@event("travel.ReservationCancelled", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class ReservationCancelled:
    reason: str


ReservationEvent = ReservationBooked | ReservationAmended | ReservationCancelled
