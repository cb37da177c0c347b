"""The one parser for integers that arrive as text: query parameters, path segments, headers.

``str.isdigit()`` accepts Unicode digits (superscripts, Arabic-Indic or
full-width digits) that ``int()`` then refuses or reads as something else, and
``int()`` accepts any length, so a 24-digit position overflows SQLite's 64-bit
integers deep inside a query. Every integer the HTTP layer takes goes through
:func:`parse_int`: ASCII digits only, bounded, and refused with an
:class:`~kiroku.errors.InputError` that names the parameter and the range.
"""

from __future__ import annotations

from kiroku.errors import InputError

__all__ = ["MAX_POSITION", "parse_int"]

MAX_POSITION = 2**63 - 1
"""The largest integer a journal stores (SQLite's and PostgreSQL's signed 64-bit)."""

_ASCII_DIGITS = frozenset("0123456789")


def parse_int(raw: str, name: str, *, low: int = 0, high: int = MAX_POSITION) -> int:
    """``raw`` as an integer in ``low..high``; an :class:`InputError` naming ``name`` otherwise.

    Only ASCII digits, with an optional leading ``-`` when ``low`` is negative;
    no sign, spaces, underscores or other scripts' digits.
    """
    digits = raw[1:] if raw.startswith("-") and low < 0 else raw
    if not digits or len(digits) > len(str(max(abs(low), abs(high)))) or not _ascii(digits):
        raise InputError(f"{name}={_shown(raw)} must be an integer in {low}..{high}")
    value = int(raw)
    if not low <= value <= high:
        raise InputError(f"{name}={_shown(raw)} must be an integer in {low}..{high}")
    return value


def _ascii(digits: str) -> bool:
    return all(c in _ASCII_DIGITS for c in digits)


def _shown(raw: str) -> str:
    """The offending value, quoted and cut, so an error never echoes a megabyte back."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")
