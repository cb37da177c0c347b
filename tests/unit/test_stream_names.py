"""Stream names are checked on every append; the names found valid are remembered,
which must never let an invalid name through."""

from __future__ import annotations

import pytest

from kiroku.domain.streams import (
    MAX_STREAM_LENGTH,
    REMEMBERED_NAMES,
    stream_name,
    validate_stream,
)
from kiroku.errors import InvalidStreamNameError


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("room", "expected 'category-id'"),
        ("room-", "expected 'category-id'"),
        ("Room-1", "category 'Room'"),
        ("room-a b", "id 'a b' has characters"),
        ("room-" + "x" * MAX_STREAM_LENGTH, "longer than"),
    ],
)
def test_a_bad_name_says_what_is_wrong_every_time(name: str, why: str) -> None:
    validate_stream("room-1")  # a valid neighbour is remembered
    for _ in range(2):  # and the bad name is not, however often it is tried
        with pytest.raises(InvalidStreamNameError, match=why):
            validate_stream(name)


def test_a_value_that_is_not_a_string_is_refused() -> None:
    for value in (None, 7, ["room-1"], b"room-1"):
        with pytest.raises(InvalidStreamNameError, match="must be a string"):
            validate_stream(value)  # type: ignore[arg-type]  # wrong on purpose


def test_names_past_the_remembered_ones_are_still_checked() -> None:
    names = [stream_name("room", str(n)) for n in range(REMEMBERED_NAMES * 2)]
    assert all(validate_stream(n) == n for n in names)
    with pytest.raises(InvalidStreamNameError):
        validate_stream("room-bad name")
