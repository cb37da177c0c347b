"""Log lines from hostile input: escaped in text, structured in JSON, secrets masked
whatever the spelling of their parameter's name, records written off the caller's thread."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiroku.api.logs import (
    FIELDS,
    JsonFormatter,
    QueuedLogging,
    TextFormatter,
    enqueue,
    masked_query,
)

HOSTILE = "/x\n2026-01-01 INFO kiroku.access: forged\r\x1b[2J\x00\x7f\x85\u2028end"


def _record(message: str, *args: object, **fields: object) -> logging.LogRecord:
    record = logging.LogRecord("kiroku.access", logging.INFO, __file__, 1, message, args, None)
    setattr(record, FIELDS, fields)
    return record


@given(st.text())
def test_a_text_line_is_one_line_without_control_characters(text: str) -> None:
    line = TextFormatter().format(_record("%s", text))
    assert "\n" not in line
    assert all(ord(c) >= 0x20 and not 0x7F <= ord(c) <= 0x9F for c in line)


@given(st.text())
def test_a_json_line_is_one_ascii_line_that_reads_back(text: str) -> None:
    line = JsonFormatter().format(_record("GET %s", text, path=text))
    assert "\n" not in line
    assert line.isascii()
    read = json.loads(line)
    assert read["message"] == f"GET {text}"
    assert read["path"] == text


def test_a_traceback_cannot_pass_for_a_record() -> None:
    try:
        raise ValueError(HOSTILE)
    except ValueError:
        record = logging.LogRecord("kiroku", logging.ERROR, __file__, 1, "failed", (), None)
        record.exc_info = sys.exc_info()
    lines = TextFormatter().format(record).split("\n")
    assert all(line.startswith("    ") for line in lines[1:])
    assert "\x1b" not in "".join(lines)


@pytest.mark.parametrize(
    "query",
    [
        "access_token=SECRET",
        "access%5Ftoken=SECRET",
        "%61ccess_token=SECRET",
        "%61%63%63%65%73%73%5f%74%6f%6b%65%6e=SECRET",
        "a=1&access_token=SECRET&b=2",
        "ACCESS_TOKEN=SECRET",
        "access_token=SECRET&access_token=SECRET",
    ],
)
def test_a_token_is_masked_whatever_its_spelling(query: str) -> None:
    masked = masked_query(query)
    assert "SECRET" not in masked
    assert "***" in masked


def test_other_parameters_are_kept() -> None:
    assert masked_query("after=5&limit=10") == "after=5&limit=10"
    assert masked_query("tok=1&access_token") == "tok=1&access_token"


def test_records_are_written_by_another_thread() -> None:
    out = io.StringIO()
    writers: list[str] = []

    class Seen(io.StringIO):
        def write(self, s: str) -> int:
            writers.append(threading.current_thread().name)
            return out.write(s)

    with QueuedLogging("info", "json", Seen()):
        logging.getLogger("kiroku.access").info("hello %s", "there", extra={FIELDS: {"a": 1}})
    assert json.loads(out.getvalue())["message"] == "hello there"
    assert json.loads(out.getvalue())["a"] == 1
    assert writers
    assert threading.current_thread().name not in writers


def test_access_records_queued_as_parts_are_written_in_order_with_the_others() -> None:
    out = io.StringIO()
    access = logging.getLogger("kiroku.access")
    with QueuedLogging("info", "json", out):
        logging.getLogger("kiroku.other").info("first")
        assert enqueue(access, "%s %d", ("GET", 200), {"status": 200})
        logging.getLogger("kiroku.other").info("last")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["message"] for line in lines] == ["first", "GET 200", "last"]
    assert lines[1]["logger"] == "kiroku.access"
    assert lines[1]["level"] == "info"
    assert lines[1]["status"] == 200


def test_a_logger_with_a_handler_of_its_own_is_logged_the_usual_way() -> None:
    access = logging.getLogger("kiroku.access")
    assert not enqueue(access, "%s", ("x",), {})  # nothing installed
    own = logging.NullHandler()
    access.addHandler(own)
    try:
        with QueuedLogging("info", "json", io.StringIO()):
            assert not enqueue(access, "%s", ("x",), {})
    finally:
        access.removeHandler(own)
