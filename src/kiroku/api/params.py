"""The parsers for parameters that arrive as text: integers (query parameters, path
segments, headers), ``as_of`` (a position or a time) and full-text queries.

``str.isdigit()`` accepts Unicode digits (superscripts, Arabic-Indic or
full-width digits) that ``int()`` then refuses or reads as something else, and
``int()`` accepts any length, so a 24-digit position overflows SQLite's 64-bit
integers deep inside a query. Every integer the HTTP layer takes goes through
:func:`parse_int`: ASCII digits only, bounded, and refused with an
:class:`~kiroku.errors.InputError` that names the parameter and the range.
Times and search text have one parser each for the same reason: the text is
checked here, once, so nothing malformed reaches a query and surfaces as a 5xx.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from starlette.types import Scope

from kiroku.domain.numbers import MAX_POSITION, ascii_digits, parse_int
from kiroku.domain.numbers import shown as _shown
from kiroku.errors import AuthenticationError, InputError

__all__ = ["MAX_POSITION", "MAX_SEARCH", "fts_query", "header", "parse_as_of", "parse_int"]

_ISO_CHARS = frozenset("0123456789-:.+TZtz ")
_MAX_ISO = 40


def parse_as_of(raw: str, name: str = "as_of") -> int | datetime:
    """A global position (ASCII digits, bounded) or an ISO 8601 time as an aware UTC
    datetime (UTC when no zone is given); an :class:`InputError` for anything else."""
    if raw and ascii_digits(raw):
        return parse_int(raw, name)
    if not raw or len(raw) > _MAX_ISO or not all(c in _ISO_CHARS for c in raw):
        raise InputError(f"{name}={_shown(raw)} is neither a position nor an ISO 8601 time")
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as e:
        raise InputError(f"{name}={_shown(raw)} is neither a position nor an ISO 8601 time") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:  # within a day of the calendar's ends: before or after everything
        end = datetime.min if when.year == datetime.min.year else datetime.max
        return end.replace(tzinfo=UTC)


def header(scope: Scope, name: bytes) -> str | None:
    """The first ``name`` header (lower case, as ASGI servers give them), or None.

    Read from the raw list: Starlette's ``Request.headers`` builds a ``Headers``
    and decodes every name it passes on each lookup, the largest single cost
    of a post's own code once three lookups (token, key, length) each paid it."""
    for key, value in scope["headers"]:
        if key == name:
            text: str = value.decode("latin-1")
            return text
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when the header
    is absent or carries no token. Another scheme is an AuthenticationError: a
    client sending Basic credentials must hear why it is refused, not "no token"."""
    given = header(scope, b"authorization")
    if not given:
        return None
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer":
        raise AuthenticationError(f"Unsupported authorization scheme {scheme!r}; use Bearer")
    return token.strip() or None


MAX_SEARCH = 200
"""The longest search text, in characters."""


def fts_query(raw: str, name: str = "q") -> str:
    """Search text as an SQLite FTS5 query: every word a quoted string, so user text is
    never FTS5 syntax. Control characters (NUL included) and lone surrogates are refused:
    SQLite would fail on them deep in the query (a 503) instead of the request (a 400)."""
    text = raw.strip()
    if not text or len(raw) > MAX_SEARCH:
        raise InputError(
            f"{name} must be 1 to {MAX_SEARCH} characters with a word, got {len(raw)} characters"
        )
    bad = next(
        (c for c in text if unicodedata.category(c) in ("Cc", "Cs") and c not in " \t\n\r"), None
    )
    if bad is not None:
        raise InputError(f"{name} must not contain control characters, got U+{ord(bad):04X}")
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())
