"""The SQLite journal's stored text forms, written by fast paths, equal the plain ones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiroku.domain.envelope import NewEvent
from kiroku.errors import InputError
from kiroku.journal.sqlite.schema import encode_events, iso_utc, to_stored, uuid_text

_offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_aware = st.datetimes(
    min_value=datetime(2, 1, 1),
    max_value=datetime(9998, 12, 31),
    timezones=st.just(UTC) | _offsets,
)


@given(_aware)
def test_iso_utc_is_isoformat_in_utc_with_microseconds(when: datetime) -> None:
    assert iso_utc(when) == when.astimezone(UTC).isoformat(timespec="microseconds")


@given(_aware.map(lambda when: when.replace(microsecond=0)))
def test_iso_utc_keeps_a_zero_fraction(when: datetime) -> None:
    assert iso_utc(when).endswith(".000000+00:00")


@given(st.uuids())
def test_uuid_text_is_the_canonical_form(value: uuid.UUID) -> None:
    assert uuid_text(value) == str(value)


def test_rows_become_stored_events_field_by_field() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    at = "2026-01-02T03:04:05.000006+00:00"
    rows = [
        (7, "room-1", 1, "t.A", 1, b'{"a": 1}', str(ids[0]), at, None, None, "{}"),
        (9, "room-2", 4, "t.B", 2, b"{}", str(ids[1]), at, "c", "d", '{"k":[1,"x"]}'),
    ]
    first, second = to_stored(rows)
    assert (first.position, first.data, first.event_id, first.metadata) == (
        7,
        b'{"a": 1}',
        ids[0],
        {},
    )
    assert first.occurred_at == datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert (second.stream, second.version, second.type, second.schema_version) == (
        "room-2",
        4,
        "t.B",
        2,
    )
    assert (second.correlation_id, second.causation_id) == ("c", "d")
    assert (second.event_id, second.metadata) == (ids[1], {"k": [1, "x"]})
    assert to_stored([]) == []


def test_data_that_is_not_utf8_is_refused_naming_its_event() -> None:
    good = NewEvent("t.A", 1, b"{}")
    bad = NewEvent("t.A", 1, b'{"x":"\xff"}')
    with pytest.raises(InputError, match=f"data of event {bad.event_id} must be UTF-8"):
        encode_events([good, bad])
    [row] = encode_events([good])
    assert row[2:5] == ("{}", str(good.event_id), iso_utc(good.occurred_at))
