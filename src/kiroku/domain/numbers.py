"""Integers that arrive as text, read one way everywhere (HTTP, CLI, corrections).

``str.isdigit()`` accepts Unicode digits (superscripts, Arabic-Indic or
full-width digits) that ``int()`` then refuses or reads as something else, and
``int()`` accepts any length, so a 24-digit position overflows the journal's
64-bit integers deep inside a query. :func:`parse_int` takes ASCII digits only,
bounded, and refuses anything else with an :class:`~kiroku.errors.InputError`
that names the parameter and the range.
"""

from __future__ import annotations

from kiroku.errors import InputError

__all__ = ["MAX_POSITION", "ascii_digits", "parse_int", "shown"]

MAX_POSITION = 2**63 - 1
"""The largest integer a journal stores (SQLite's and PostgreSQL's signed 64-bit)."""

_ASCII_DIGITS = frozenset("0123456789")


def parse_int(raw: str, name: str, *, low: int = 0, high: int = MAX_POSITION) -> int:
    """``raw`` as an integer in ``low..high``; an :class:`InputError` naming ``name`` otherwise.

    Only ASCII digits, with an optional leading ``-`` when ``low`` is negative;
    no sign, spaces, underscores or other scripts' digits.
    """
    digits = raw[1:] if raw.startswith("-") and low < 0 else raw
    if not ascii_digits(digits) or len(digits) > len(str(max(abs(low), abs(high)))):
        raise InputError(f"{name}={shown(raw)} must be an integer in {low}..{high}")
    value = int(raw)
    if not low <= value <= high:
        raise InputError(f"{name}={shown(raw)} must be an integer in {low}..{high}")
    return value


def ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more ASCII digits (what :func:`parse_int` reads)."""
    return bool(text) and all(c in _ASCII_DIGITS for c in text)


def shown(raw: str) -> str:
    """The offending value, quoted and cut, so an error never echoes a megabyte back."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "…")
