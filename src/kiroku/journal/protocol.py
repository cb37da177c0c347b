"""The journal: the durable, append-only record every other part is derived from.

Backends implement ``Journal``; ``kiroku.testing.JournalContract`` is the test
suite each backend subclasses in a few lines to prove it keeps the promises
below.

Promises:
- ``append`` is atomic per call: all events or none, versions gapless per
  stream; a stale ``expected_version`` raises WrongExpectedVersionError and
  writes nothing. When it returns, the events are durable.
- Global positions increase in commit order. ``read_all``/``subscribe`` never
  pass over an event that commits later with a smaller position: a reader may
  wait, it may never skip.
- ``subscribe`` is woken by appends; it does not poll.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeAlias, runtime_checkable

import msgspec

from kiroku.domain.envelope import Metadata, NewEvent, StoredEvent

__all__ = [
    "ANY",
    "NO_STREAM",
    "AppendResult",
    "ExpectedVersion",
    "Journal",
    "Snapshot",
    "StreamState",
]


class StreamState(enum.Enum):
    """Expected versions that are not a number."""

    NO_STREAM = "no stream"  # the stream must have no events yet (same as 0)
    ANY = "any"  # no concurrency check at all

    def __str__(self) -> str:
        return self.value


NO_STREAM = StreamState.NO_STREAM
ANY = StreamState.ANY

ExpectedVersion: TypeAlias = int | StreamState
"""A stream version (the last one the writer saw; 0 = no events yet), NO_STREAM or ANY."""


class AppendResult(msgspec.Struct, frozen=True, gc=False):
    """Where an append landed: the stream's new version and the global positions used.

    A Struct rather than a frozen dataclass: one is built per append, and a
    frozen dataclass pays an ``object.__setattr__`` per field.
    """

    stream: str
    version: int
    first_position: int
    position: int

    @property
    def first_version(self) -> int:
        return self.version - (self.position - self.first_position)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A state saved at a stream version, so recovery replays only what came after.

    ``state_version`` is the decider's ``state_version`` when it was taken;
    ``metadata`` holds what the runtime keeps beside the state (idempotency keys).
    """

    stream: str
    version: int
    state_type: str
    state_version: int
    data: bytes
    taken_at: datetime
    metadata: Metadata


@runtime_checkable
class Journal(Protocol):
    async def append(
        self, stream: str, expected_version: ExpectedVersion, events: Sequence[NewEvent]
    ) -> AppendResult: ...

    async def read_stream(
        self, stream: str, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """Events of ``stream`` with from_version <= version <= to_version, in order."""
        ...

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Up to ``limit`` events with position > ``after_position``, in position order."""
        ...

    def subscribe(
        self, after_position: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[StoredEvent]]:
        """Non-empty batches after ``after_position``, forever; woken by appends.

        Ends (StopAsyncIteration) when the journal is closed.
        """
        ...

    async def head_position(self) -> int:
        """The position of the last committed event (0 for an empty journal)."""
        ...

    async def stream_version(self, stream: str) -> int:
        """The stream's current version (0 if it has no events), deleted events included."""
        ...

    async def get_event(self, position: int) -> StoredEvent:
        """The event at ``position``; EventNotFoundError if none (or deleted)."""
        ...

    async def find_event(self, event_id: uuid.UUID) -> StoredEvent: ...

    async def position_at(self, when: datetime) -> int:
        """The last position whose event occurred at or before ``when`` (0 if none)."""
        ...

    async def save_snapshot(self, snapshot: Snapshot) -> None: ...

    async def load_snapshot(self, stream: str) -> Snapshot | None: ...

    async def delete_before(self, stream: str, version: int) -> int:
        """Delete the stream's events with version < ``version``; return how many.

        The stream's version numbering is unaffected: later appends continue from it.
        """
        ...

    async def close(self) -> None: ...
