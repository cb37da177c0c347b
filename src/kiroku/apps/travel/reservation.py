"""The Reservation aggregate: book, amend, cancel.

Deciding again after its own events returns nothing (booking the same
itinerary twice, amending to the itinerary it already has, cancelling twice),
so a retried command is a no-op rather than a duplicate charge downstream.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kiroku import Decider, DomainError
from kiroku.apps.travel.events import (
    BusLeg,
    Flight,
    HotelStay,
    Option,
    ReservationAmended,
    ReservationBooked,
    ReservationCancelled,
    ReservationEvent,
)

__all__ = [
    "AlreadyBookedError",
    "AmendReservation",
    "BookReservation",
    "CancelReservation",
    "EmptyItineraryError",
    "InvalidPriceError",
    "Itinerary",
    "NotBookedError",
    "Reservation",
    "ReservationCancelledError",
    "ReservationCommand",
    "ReservationState",
]


@dataclass(frozen=True, slots=True)
class Itinerary:
    flights: tuple[Flight, ...] = ()
    hotels: tuple[HotelStay, ...] = ()
    bus_legs: tuple[BusLeg, ...] = ()
    options: tuple[Option, ...] = ()

    @property
    def children(self) -> tuple[Flight | HotelStay | BusLeg | Option, ...]:
        return (*self.flights, *self.hotels, *self.bus_legs, *self.options)

    @property
    def total(self) -> int:
        return sum(c.price for c in self.children)

    def check(self) -> None:
        """Raise the DomainError a bookable itinerary must not deserve."""
        if not (self.flights or self.hotels or self.bus_legs):
            raise EmptyItineraryError()
        for child in self.children:
            if child.price < 0:
                raise InvalidPriceError(repr(child), child.price)


@dataclass(frozen=True, slots=True)
class BookReservation:
    customer: str
    currency: str
    itinerary: Itinerary


@dataclass(frozen=True, slots=True)
class AmendReservation:
    itinerary: Itinerary


@dataclass(frozen=True, slots=True)
class CancelReservation:
    reason: str


ReservationCommand = BookReservation | AmendReservation | CancelReservation


@dataclass(frozen=True, slots=True)
class ReservationState:
    status: str = "new"  # new | booked | cancelled
    customer: str = ""
    currency: str = ""
    itinerary: Itinerary = field(default_factory=Itinerary)


class AlreadyBookedError(DomainError):
    def __init__(self, customer: str) -> None:
        self.customer = customer
        super().__init__(
            f"The reservation is already booked for {customer!r} with another itinerary"
        )


class NotBookedError(DomainError):
    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"Cannot {command}: the reservation is not booked")


class ReservationCancelledError(DomainError):
    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(f"Cannot {command}: the reservation is cancelled")


class EmptyItineraryError(DomainError):
    def __init__(self) -> None:
        super().__init__("An itinerary needs at least one flight, hotel stay or bus leg")


class InvalidPriceError(DomainError):
    def __init__(self, item: str, price: int) -> None:
        self.item = item
        self.price = price
        super().__init__(f"{item}: price {price} must not be negative")


class Reservation(Decider[ReservationState, ReservationCommand, ReservationEvent]):
    """One reservation; its id is the stream id (``reservation-<id>``)."""

    category = "reservation"
    initial = ReservationState()

    def decide(
        self, command: ReservationCommand, state: ReservationState
    ) -> Sequence[ReservationEvent]:
        match command:
            case BookReservation():
                return _book(command, state)
            case AmendReservation():
                return _amend(command, state)
            case CancelReservation():
                return _cancel(command, state)
        raise TypeError(f"Reservation cannot decide {type(command).__qualname__}")

    def evolve(self, state: ReservationState, event: ReservationEvent) -> ReservationState:
        match event:
            case ReservationBooked():
                it = Itinerary(event.flights, event.hotels, event.bus_legs, event.options)
                return ReservationState("booked", event.customer, event.currency, it)
            case ReservationAmended():
                it = Itinerary(event.flights, event.hotels, event.bus_legs, event.options)
                return ReservationState("booked", state.customer, state.currency, it)
            case ReservationCancelled():
                return ReservationState(
                    "cancelled", state.customer, state.currency, state.itinerary
                )
        return state


def _book(c: BookReservation, s: ReservationState) -> list[ReservationEvent]:
    if s.status != "new":
        if (s.customer, s.currency, s.itinerary) == (c.customer, c.currency, c.itinerary):
            return []  # the same booking again: already done
        raise AlreadyBookedError(s.customer)
    c.itinerary.check()
    it = c.itinerary
    booked = ReservationBooked(
        customer=c.customer, currency=c.currency, flights=it.flights, hotels=it.hotels,
        bus_legs=it.bus_legs, options=it.options, total=it.total,
    )  # fmt: skip
    return [booked]


def _amend(c: AmendReservation, s: ReservationState) -> list[ReservationEvent]:
    if s.status == "new":
        raise NotBookedError("amend")
    if s.status == "cancelled":
        raise ReservationCancelledError("amend")
    if c.itinerary == s.itinerary:
        return []
    c.itinerary.check()
    it = c.itinerary
    amended = ReservationAmended(
        flights=it.flights, hotels=it.hotels, bus_legs=it.bus_legs, options=it.options,
        total=it.total, previous_total=s.itinerary.total,
    )  # fmt: skip
    return [amended]


def _cancel(c: CancelReservation, s: ReservationState) -> list[ReservationEvent]:
    if s.status == "new":
        raise NotBookedError("cancel")
    if s.status == "cancelled":
        return []
    return [ReservationCancelled(reason=c.reason)]
