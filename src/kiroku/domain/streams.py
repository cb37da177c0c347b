"""Stream names: ``category-id``, the aggregate root written into every event's address.

The category names the aggregate type (``room``), the id names one instance
(``room-7f3a``). Every event lives in exactly one stream, so every event carries
its aggregate root (pitfall 5: the root is an attribute of every event). The
first ``-`` separates the two, so ids may contain dashes (UUIDs do).
"""

from __future__ import annotations

import re

from kiroku.errors import InvalidStreamNameError

__all__ = [
    "MAX_STREAM_LENGTH",
    "REMEMBERED_NAMES",
    "category_of",
    "id_of",
    "stream_name",
    "validate_stream",
]

MAX_STREAM_LENGTH = 200
_CATEGORY = re.compile(r"[a-z][a-z0-9_.]*\Z")
_ID = re.compile(r"[A-Za-z0-9_.:@+=~-]+\Z")


_VALID: dict[str, None] = {}  # names found valid lately: every append checks its stream's name
REMEMBERED_NAMES = 4096  # at most this many; then forgotten all at once


def validate_stream(stream: str) -> str:
    """Return ``stream`` unchanged, or raise InvalidStreamNameError saying what is wrong.

    Names already found valid are remembered (a bounded set, emptied when full),
    so the write path's repeated checks of the same live streams cost a lookup.
    """
    if type(stream) is str and stream in _VALID:
        return stream
    _check(stream)
    if len(_VALID) >= REMEMBERED_NAMES:
        _VALID.clear()
    _VALID[stream] = None
    return stream


def _check(stream: str) -> None:
    if not isinstance(stream, str):
        raise InvalidStreamNameError(repr(stream), "must be a string")
    if len(stream) > MAX_STREAM_LENGTH:
        raise InvalidStreamNameError(stream, f"longer than {MAX_STREAM_LENGTH} characters")
    category, sep, ident = stream.partition("-")
    if not sep or not ident:
        raise InvalidStreamNameError(stream, "expected 'category-id'")
    if not _CATEGORY.match(category):
        raise InvalidStreamNameError(
            stream, f"category {category!r} must be lower-case letters, digits, '_' or '.'"
        )
    if not _ID.match(ident):
        raise InvalidStreamNameError(
            stream, f"id {ident!r} has characters outside [A-Za-z0-9_.:@+=~-]"
        )


def stream_name(category: str, ident: str) -> str:
    return validate_stream(f"{category}-{ident}")


def category_of(stream: str) -> str:
    return stream.partition("-")[0]


def id_of(stream: str) -> str:
    return stream.partition("-")[2]
