"""The parameter parsers take any text: each answers a value or an InputError, never
anything else, and what they accept is exactly what the layers behind them can use."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku.api.params import (
    MAX_POSITION,
    MAX_SEARCH,
    bearer_token,
    fts_query,
    parse_as_of,
    parse_int,
)
from kiroku.errors import AuthenticationError, InputError

ANY_TEXT = st.text(max_size=60) | st.from_regex(r"-?[0-9]{0,25}", fullmatch=True)
UNICODE_DIGITS = [
    "²",
    "٣",
    "\uff15",
    "1²",
    "\u0661\u0662",
    "\U0001d7d7",
    "0x10",
    " 1",
    "1 ",
    "+1",
    "1_0",
    "1e3",
    "",
    "-0",
]


@given(ANY_TEXT, st.integers(-5, 5), st.integers(0, MAX_POSITION))
def test_parse_int_is_an_integer_in_range_or_an_input_error(raw: str, low: int, high: int) -> None:
    try:
        value = parse_int(raw, "n", low=low, high=high)
    except InputError as e:
        error = str(e)
    else:
        error = ""
    if error:
        assert error.startswith("n=")  # names the parameter
        return
    assert low <= value <= high
    digits = raw.removeprefix("-")
    assert digits.isascii()
    assert digits.isdigit()
    assert value == int(raw)


@pytest.mark.parametrize("raw", [*UNICODE_DIGITS, "9" * 24, str(MAX_POSITION + 1)])
def test_parse_int_refuses_other_scripts_signs_and_overflow(raw: str) -> None:
    with pytest.raises(InputError):
        parse_int(raw, "n")


def test_parse_int_accepts_the_journal_range() -> None:
    assert parse_int("0", "n") == 0
    assert parse_int(str(MAX_POSITION), "n") == MAX_POSITION


@given(ANY_TEXT | st.datetimes(timezones=st.timezones()).map(datetime.isoformat))
@settings(max_examples=300)
def test_parse_as_of_is_a_position_a_utc_time_or_an_input_error(raw: str) -> None:
    try:
        parsed = parse_as_of(raw)
    except InputError:
        return
    if isinstance(parsed, datetime):
        assert parsed.tzinfo is not None
        assert parsed.utcoffset() == UTC.utcoffset(None)
        parsed.isoformat()  # usable by the journal's time index
    else:
        assert 0 <= parsed <= MAX_POSITION


@pytest.mark.parametrize(
    "raw",
    [
        "²",
        "٣",
        "\uff15",
        "9" * 24,
        "\uff12\uff10\uff12\uff16-01-01",
        "tomorrow",
    ],
)
def test_parse_as_of_refuses_what_the_journal_cannot_use(raw: str) -> None:
    with pytest.raises(InputError):
        parse_as_of(raw)


def test_parse_as_of_clamps_times_at_the_calendars_ends() -> None:
    assert parse_as_of("0001-01-01T00:00:00+01:00") == datetime.min.replace(tzinfo=UTC)
    assert parse_as_of("9999-12-31T23:59:59-01:00") == datetime.max.replace(tzinfo=UTC)


def test_parse_as_of_reads_times_without_a_zone_as_utc() -> None:
    assert parse_as_of("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_as_of("2026-01-02T03:04:05+01:00") == datetime(2026, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert parse_as_of("17") == 17


@pytest.fixture(scope="module")
def fts() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE search USING fts5(body, tokenize='unicode61')")
    conn.execute("INSERT INTO search VALUES ('hello w\u00f6rld \"quoted\" AND OR NOT *')")
    return conn


@given(st.text(max_size=MAX_SEARCH + 20))
@settings(max_examples=300)
def test_a_search_is_a_query_sqlite_runs_or_an_input_error(
    fts: sqlite3.Connection, raw: str
) -> None:
    try:
        query = fts_query(raw)
    except InputError:
        return
    fts.execute("SELECT count(*) FROM search WHERE search MATCH ?", (query,)).fetchone()


@pytest.mark.parametrize("raw", ["\x00", "a\x00b", "\x1b[31m", "a\ud800", "", "   ", "x" * 201])
def test_a_search_with_control_characters_or_no_words_is_refused(raw: str) -> None:
    with pytest.raises(InputError):
        fts_query(raw)


def test_search_words_are_never_fts_syntax(fts: sqlite3.Connection) -> None:
    for raw in ['"quoted"', "AND", "NOT hello", "hel*", "body:hello", "NEAR(a b)"]:
        fts.execute("SELECT count(*) FROM search WHERE search MATCH ?", (fts_query(raw),))


def _with_authorization(*values: bytes) -> dict[str, object]:
    return {"headers": [(b"host", b"x"), *((b"authorization", v) for v in values)]}


@pytest.mark.parametrize(
    ("value", "token"),
    [
        (b"Bearer abc", "abc"),
        (b"bearer  abc ", "abc"),
        (b"BEARER abc", "abc"),
        (b"Bearer", None),
        (b"Bearer ", None),
        (b"", None),
    ],
)
def test_a_bearer_header_gives_its_token_or_none(value: bytes, token: str | None) -> None:
    assert bearer_token(_with_authorization(value)) == token


def test_no_authorization_header_is_no_token_and_only_the_first_counts() -> None:
    assert bearer_token(_with_authorization()) is None
    assert bearer_token(_with_authorization(b"Bearer one", b"Bearer two")) == "one"


@pytest.mark.parametrize("value", [b"Basic dXNlcjpwYXNz", b"Token abc", b"Bearerabc"])
def test_another_scheme_is_refused_by_name(value: bytes) -> None:
    with pytest.raises(AuthenticationError, match="Unsupported authorization scheme"):
        bearer_token(_with_authorization(value))
