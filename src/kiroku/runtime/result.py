"""What a command leaves behind: the result the caller gets, and the receipt the
aggregate keeps so that a retried command can be answered without running again."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from kiroku.domain.envelope import JSON, Metadata, NewEvent, Recorded

__all__ = [
    "IDEMPOTENCY_KEY",
    "CommandResult",
    "Receipt",
    "key_of",
    "recorded_from_new",
]

S = TypeVar("S", covariant=True)
E = TypeVar("E", covariant=True)
D = TypeVar("D")

IDEMPOTENCY_KEY = "idempotency_key"
"""The metadata entry that carries a command's idempotency key on every event it appended."""


@dataclass(frozen=True, slots=True)
class CommandResult(Generic[S, E]):
    """The outcome of an accepted command.

    ``version`` is the stream's version after the command; ``first_position``
    and ``position`` bound the global positions of the appended events (both 0
    when the command decided nothing). ``events`` are the recorded events, built
    from what ``decide`` returned, not decoded back from the journal. ``duplicate``
    is True when an idempotency key matched an earlier command: nothing was
    appended and this is the first command's outcome.
    """

    stream: str
    version: int
    first_position: int
    position: int
    events: tuple[Recorded[E], ...]
    state: S
    duplicate: bool = False

    @property
    def first_version(self) -> int:
        """The version of the first appended event (``version + 1`` if none)."""
        return self.version - len(self.events) + 1

    def as_duplicate(self) -> CommandResult[S, E]:
        return replace(self, duplicate=True)


@dataclass(frozen=True, slots=True)
class Receipt:
    """Where a keyed command's events landed. Small enough to keep many of them in
    memory and in a snapshot's metadata, which is how keys survive both a restart
    and the deletion of the events themselves by a retention policy."""

    key: str
    first_version: int
    version: int
    first_position: int
    position: int

    def to_json(self) -> list[JSON]:
        return [self.key, self.first_version, self.version, self.first_position, self.position]

    @classmethod
    def from_json(cls, row: JSON) -> Receipt | None:
        """The receipt stored as ``row``, or None if the row is not one (ignored, not fatal)."""
        if not isinstance(row, list) or len(row) != 5 or not isinstance(row[0], str):
            return None
        numbers = [n for n in row[1:] if isinstance(n, int) and not isinstance(n, bool)]
        if len(numbers) != 4:
            return None
        return cls(row[0], *numbers)

    @classmethod
    def of(cls, key: str, result: CommandResult[object, object]) -> Receipt:
        return cls(
            key, result.first_version, result.version, result.first_position, result.position
        )


def key_of(metadata: Metadata) -> str | None:
    """The idempotency key an event was appended under, if any."""
    key = metadata.get(IDEMPOTENCY_KEY)
    return key if isinstance(key, str) else None


def recorded_from_new(
    stream: str, version: int, position: int, new: NewEvent, data: D
) -> Recorded[D]:
    """The envelope of an event just appended, built from what was sent, not read back.

    Positional arguments, in Recorded's field order: this runs once per event
    on the write path, and keywords cost a third more.
    """
    return Recorded(
        position,
        stream,
        version,
        new.type,
        new.schema_version,
        data,
        new.event_id,
        new.occurred_at,
        new.correlation_id,
        new.causation_id,
        new.metadata,
    )
