"""Argument checks every backend runs before touching storage, so bad input
fails the same way everywhere and nothing is written."""

from __future__ import annotations

from collections.abc import Sequence

from kiroku.domain.envelope import NewEvent
from kiroku.domain.streams import validate_stream
from kiroku.errors import EmptyAppendError, InputError, WrongExpectedVersionError
from kiroku.journal.protocol import ANY, NO_STREAM, ExpectedVersion, StreamState

__all__ = ["check_append", "check_expected_version"]


def check_append(stream: str, expected: ExpectedVersion, events: Sequence[NewEvent]) -> None:
    """Raise InputError (or a subclass) unless the append's arguments are well-formed.

    Runs on every append: the common shapes (an int version, NewEvents with
    aware times, one event) are tested with exact type checks first, so a
    well-formed append costs a fraction of a microsecond per event.
    """
    validate_stream(stream)
    if not events:
        raise EmptyAppendError(stream)
    if type(expected) is not int and (
        isinstance(expected, bool) or not isinstance(expected, int | StreamState)
    ):
        raise InputError(f"expected_version must be an int, NO_STREAM or ANY, got {expected!r}")
    if isinstance(expected, int) and expected < 0:
        raise InputError(f"expected_version must be >= 0, got {expected}")
    for e in events:
        if type(e) is not NewEvent and not isinstance(e, NewEvent):
            raise InputError(
                f"append takes NewEvent values (see Codec.encode), got {type(e).__qualname__}"
            )
        if e.occurred_at.tzinfo is None:
            raise InputError(f"event {e.event_id}: occurred_at must be timezone-aware")
    if len(events) > 1 and len({e.event_id for e in events}) != len(events):
        raise InputError(f"stream {stream}: an event_id appears twice in one append")


def check_expected_version(stream: str, expected: ExpectedVersion, actual: int) -> None:
    """Raise WrongExpectedVersionError unless ``actual`` is what the writer expected."""
    if expected is ANY:
        return
    wanted = 0 if expected is NO_STREAM else expected
    if actual != wanted:
        raise WrongExpectedVersionError(stream, expected, actual)
