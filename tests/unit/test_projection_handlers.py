"""Handler selection by stored schema version and by occurred_at, and its start-up checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from kiroku import Codec, Recorded, RegistrationError, Registry, StoredEvent, event, upcaster
from kiroku.domain.envelope import JSON
from kiroku.projections import Projection, Tx, handles

REG = Registry()
CUT = datetime(2024, 4, 1, tzinfo=UTC)


@event("sel.Priced", version=3, registry=REG)
@dataclass(frozen=True, slots=True)
class Priced:
    amount: int


@upcaster("sel.Priced", from_version=1, registry=REG)
def _v1(data: dict[str, JSON]) -> dict[str, JSON]:
    return data


@upcaster("sel.Priced", from_version=2, registry=REG)
def _v2(data: dict[str, JSON]) -> dict[str, JSON]:
    return data


class ByVersion(Projection):
    name = "sel.by_version"

    @handles(Priced, versions=range(1, 3))
    async def old(self, tx: Tx, e: Recorded[Priced]) -> None: ...

    @handles(Priced, versions=range(3, 4))
    async def new(self, tx: Tx, e: Recorded[Priced]) -> None: ...


class ByTime(Projection):
    name = "sel.by_time"

    @handles(Priced, before=CUT)
    async def before_cut(self, tx: Tx, e: Recorded[Priced]) -> None: ...

    @handles(Priced, after=CUT)
    async def after_cut(self, tx: Tx, e: Recorded[Priced]) -> None: ...


def recorded(schema_version: int, when: datetime) -> Recorded[object]:
    stored = StoredEvent(
        position=1,
        stream="shop-1",
        version=1,
        type="sel.Priced",
        schema_version=schema_version,
        data=b'{"amount": 5}',
        event_id=uuid.uuid4(),
        occurred_at=when,
        correlation_id=None,
        causation_id=None,
        metadata={},
    )
    return Codec(REG).decode(stored)


def handler_name(p: Projection, e: Recorded[object]) -> str | None:
    fn = p.handler_for(e)
    return None if fn is None else fn.__name__


@pytest.mark.parametrize(("version", "expected"), [(1, "old"), (2, "old"), (3, "new")])
def test_the_handler_is_chosen_by_the_stored_schema_version(version: int, expected: str) -> None:
    assert handler_name(ByVersion(), recorded(version, CUT)) == expected


def test_the_handler_is_chosen_by_occurred_at_with_after_inclusive() -> None:
    earlier = datetime(2024, 3, 31, 23, 59, tzinfo=UTC)
    assert handler_name(ByTime(), recorded(3, earlier)) == "before_cut"
    assert handler_name(ByTime(), recorded(3, CUT)) == "after_cut"


def test_overlapping_version_selectors_are_rejected_when_the_class_is_defined() -> None:
    with pytest.raises(RegistrationError, match=r"a .*b .*both take Priced"):

        class Clash(Projection):
            name = "sel.clash"

            @handles(Priced, versions=range(1, 3))
            async def a(self, tx: Tx, e: Recorded[Priced]) -> None: ...

            @handles(Priced, versions=range(2, 4))
            async def b(self, tx: Tx, e: Recorded[Priced]) -> None: ...


def test_an_unbounded_handler_overlaps_a_dated_one() -> None:
    with pytest.raises(RegistrationError, match="narrow their versions or time ranges"):

        class Clash(Projection):
            name = "sel.clash2"

            @handles(Priced)
            async def a(self, tx: Tx, e: Recorded[Priced]) -> None: ...

            @handles(Priced, after=CUT)
            async def b(self, tx: Tx, e: Recorded[Priced]) -> None: ...


def test_naive_datetimes_and_empty_ranges_are_rejected() -> None:
    with pytest.raises(RegistrationError, match="needs a timezone"):
        handles(Priced, before=datetime(2024, 1, 1))
    with pytest.raises(RegistrationError, match="non-empty range"):
        handles(Priced, versions=range(3, 3))


def test_a_subclass_inherits_handlers_and_may_override_them() -> None:
    class Child(ByVersion):
        name = "sel.child"

        async def new(self, tx: Tx, e: Recorded[Priced]) -> None: ...

    assert handler_name(Child(), recorded(1, CUT)) == "old"
    assert handler_name(Child(), recorded(3, CUT)) is None  # the override carries no @handles
