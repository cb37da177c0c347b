"""``kiroku catalog lint`` advice: near-duplicate events and foreign fields."""

from __future__ import annotations

from dataclasses import dataclass

from kiroku import Decider, Registry, event
from kiroku.catalog import build_catalog, lint

REG = Registry()


@event("t.flight.FlightBooked", registry=REG)
@dataclass(frozen=True, slots=True)
class FlightBooked:
    booking_id: str
    customer: str
    price: int
    starts_on: str


@event("t.hotel.HotelBooked", registry=REG)
@dataclass(frozen=True, slots=True)
class HotelBooked:
    booking_id: str
    customer: str
    price: int
    nights: int


@event("t.hotel.HotelRated", registry=REG)
@dataclass(frozen=True, slots=True)
class HotelRated:
    stars: int
    flight_carrier: str
    customer_loyalty_tier: str


@dataclass(frozen=True, slots=True)
class CustomerState:
    loyalty_tier: str = ""
    customer_loyalty_tier: str = ""


class Flight(Decider[object, object, FlightBooked]):
    category = "flight"
    initial = object()


class Hotel(Decider[object, object, HotelBooked | HotelRated]):
    category = "hotel"
    initial = object()


class Customer(Decider[CustomerState, object, object]):
    category = "customer"
    initial = CustomerState()


def test_near_duplicate_events_of_different_aggregates_are_flagged() -> None:
    advice = lint(build_catalog(REG, [Flight, Hotel, Customer]))
    dupes = [a for a in advice if a.kind == "near-duplicate"]
    assert [a.events for a in dupes] == [("t.flight.FlightBooked", "t.hotel.HotelBooked")]
    assert "booking_id, customer, price" in dupes[0].message


def test_events_carrying_other_aggregates_fields_are_flagged() -> None:
    advice = [
        a for a in lint(build_catalog(REG, [Flight, Hotel, Customer])) if a.kind == "foreign-field"
    ]
    messages = sorted(a.message for a in advice)
    assert messages == [
        "t.hotel.HotelRated carries customer_loyalty_tier, which belong to aggregate 'customer'; "
        "reference it by id instead of copying its data",
        "t.hotel.HotelRated carries flight_carrier, which belong to aggregate 'flight'; "
        "reference it by id instead of copying its data",
    ]


def test_a_clean_design_gets_no_advice() -> None:
    assert lint(build_catalog(REG, [Flight])) == []
