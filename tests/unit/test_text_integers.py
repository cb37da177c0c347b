"""Every place that reads a position or an id from text refuses what is not plain
ASCII digits within the journal's range, with an InputError naming the value:
never a ValueError, an OverflowError, or a Unicode digit read as a number."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiroku.cli.readside import parse_ref, parse_start
from kiroku.domain.numbers import MAX_POSITION, ascii_digits, parse_int
from kiroku.errors import InputError

NOT_ASCII = [
    "\u00b2",
    "\u0663",
    "\uff15",
    "1\u00b2",
    "9" * 24,
    str(MAX_POSITION + 1),
    "",
    " 1",
    "+1",
]


@given(st.text())
def test_parse_int_answers_an_int_in_range_or_an_input_error(raw: str) -> None:
    try:
        value = parse_int(raw, "n")
    except InputError as e:
        message = str(e)
    else:
        assert ascii_digits(raw)
        assert 0 <= value <= MAX_POSITION
        return
    assert message.startswith("n=")


@pytest.mark.parametrize("raw", NOT_ASCII)
def test_the_command_line_refuses_what_the_api_refuses(raw: str) -> None:
    with pytest.raises(InputError):
        parse_int(raw, "n")
    with pytest.raises(InputError):
        parse_ref(raw)


@given(st.text())
def test_a_reference_is_a_position_a_uuid_or_an_input_error(raw: str) -> None:
    try:
        ref = parse_ref(raw)
    except InputError:
        return
    assert isinstance(ref, uuid.UUID) or (ascii_digits(raw) and ref == int(raw))


@given(st.text(max_size=40))
def test_a_start_is_a_position_a_time_or_an_input_error(raw: str) -> None:
    try:
        start = parse_start(raw)
    except InputError:
        return
    assert isinstance(start, datetime) or (ascii_digits(raw) and start == int(raw))
