"""The Reservation decider: given events, when a command, then events or a rejection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku import DomainError
from kiroku.apps.travel import (
    AmendReservation,
    BookReservation,
    BusLeg,
    CancelReservation,
    Flight,
    HotelStay,
    Itinerary,
    Option,
    Reservation,
    ReservationAmended,
    ReservationBooked,
    ReservationCancelled,
)
from kiroku.apps.travel.events import ReservationEvent
from kiroku.apps.travel.reservation import (
    AlreadyBookedError,
    EmptyItineraryError,
    InvalidPriceError,
    NotBookedError,
    ReservationCancelledError,
    ReservationCommand,
)
from kiroku.catalog import emitted_types

R = Reservation()
FLIGHT = Flight("KR1", "HND", "ITM", "2030-01-02", 20_000)
HOTEL = HotelStay("Ryokan", "Kyoto", "2030-01-02", 2, 30_000)
BUS = BusLeg("Kintetsu", "ITM", "Kyoto", "2030-01-02", 1_000)
TRIP = Itinerary((FLIGHT,), (HOTEL,), (BUS,), (Option("bento", "Lunch box", 1_200),))


def when(
    given_events: Sequence[ReservationEvent], command: ReservationCommand
) -> Sequence[ReservationEvent]:
    return R.decide(command, R.fold(given_events))


def booked(it: Itinerary = TRIP) -> ReservationBooked:
    return ReservationBooked(
        "alice", "JPY", it.flights, it.hotels, it.bus_legs, it.options, it.total
    )


def test_one_booking_event_carries_every_child_and_the_total() -> None:
    assert when([], BookReservation("alice", "JPY", TRIP)) == [booked()]
    assert booked().total == 52_200


def test_the_aggregate_emits_only_root_events() -> None:
    assert emitted_types(Reservation) == (
        ReservationBooked,
        ReservationAmended,
        ReservationCancelled,
    )


def test_amendment_replaces_the_itinerary_and_says_the_old_total() -> None:
    smaller = Itinerary((FLIGHT,))
    assert when([booked()], AmendReservation(smaller)) == [
        ReservationAmended((FLIGHT,), (), (), (), 20_000, 52_200)
    ]


@pytest.mark.parametrize(
    ("history", "command", "error"),
    [
        ([], AmendReservation(TRIP), NotBookedError),
        ([], CancelReservation("x"), NotBookedError),
        ([booked()], BookReservation("bob", "JPY", TRIP), AlreadyBookedError),
        (
            [booked(), ReservationCancelled("x")],
            AmendReservation(Itinerary((FLIGHT,))),
            ReservationCancelledError,
        ),
        ([], BookReservation("alice", "JPY", Itinerary(options=TRIP.options)), EmptyItineraryError),
        (
            [],
            BookReservation("a", "JPY", Itinerary((Flight("X", "A", "B", "d", -1),))),
            InvalidPriceError,
        ),
    ],
)
def test_rejections(
    history: list[ReservationEvent], command: ReservationCommand, error: type[Exception]
) -> None:
    with pytest.raises(error):
        when(history, command)


prices = st.integers(0, 100_000)
itineraries = st.builds(
    Itinerary,
    st.lists(
        st.builds(Flight, st.just("KR1"), st.just("A"), st.just("B"), st.just("d"), prices),
        min_size=1,
        max_size=2,
    ).map(tuple),
    st.lists(
        st.builds(HotelStay, st.just("H"), st.just("C"), st.just("d"), st.integers(1, 9), prices),
        max_size=2,
    ).map(tuple),
    st.lists(
        st.builds(BusLeg, st.just("L"), st.just("A"), st.just("B"), st.just("d"), prices),
        max_size=2,
    ).map(tuple),
    st.lists(
        st.builds(Option, st.sampled_from(["x", "y"]), st.just("opt"), prices), max_size=2
    ).map(tuple),
)
commands = st.one_of(
    st.builds(BookReservation, st.just("alice"), st.just("JPY"), itineraries),
    st.builds(AmendReservation, itineraries),
    st.builds(CancelReservation, st.just("changed plans")),
)


@settings(max_examples=200)
@given(st.lists(commands, max_size=6), commands)
def test_deciding_again_after_its_own_events_decides_nothing(
    history: list[ReservationCommand], command: ReservationCommand
) -> None:
    events: list[ReservationEvent] = []
    for c in history:
        try:
            events += R.decide(c, R.fold(events))
        except DomainError:
            continue
    try:
        first = R.decide(command, R.fold(events))
    except DomainError:
        return
    assert R.decide(command, R.fold([*events, *first])) == []


@given(st.lists(itineraries, min_size=1, max_size=5))
def test_the_state_total_is_the_last_itinerary_never_a_sum(its: list[Itinerary]) -> None:
    events: list[ReservationEvent] = [booked(its[0])]
    for it in its[1:]:
        events += R.decide(AmendReservation(it), R.fold(events))
    assert R.fold(events).itinerary.total == its[-1].total
