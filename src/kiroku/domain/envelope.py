"""The three shapes an event takes on its way through kiroku.

``NewEvent``     what a writer hands the journal: encoded data, no position yet.
``StoredEvent``  what the journal hands back: raw bytes plus where it landed.
``Recorded[E]``  what consumers see: a StoredEvent decoded (and upcast) into ``E``.

The journal deals only in the first two, so relays can forward bytes without
decoding, and the journal never needs to know the event types.

They are frozen msgspec Structs rather than dataclasses: recovery and catch-up
build one envelope per event, and a Struct is built an order of magnitude
faster. ``gc=False`` is safe because an envelope never takes part in a cycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Generic, TypeAlias, TypeVar

import msgspec

from kiroku.domain.ids import new_id
from kiroku.domain.streams import category_of, id_of

__all__ = [
    "JSON",
    "Folded",
    "Metadata",
    "NewEvent",
    "Recorded",
    "StoredEvent",
    "utc_now",
]

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"
Metadata: TypeAlias = Mapping[str, JSON]

E = TypeVar("E", covariant=True)
D = TypeVar("D")


def utc_now() -> datetime:
    return datetime.now(UTC)


class NewEvent(msgspec.Struct, frozen=True, gc=False):
    """An encoded event waiting to be appended. Build it with ``Codec.encode``."""

    type: str
    schema_version: int
    data: bytes
    event_id: uuid.UUID = msgspec.field(default_factory=new_id)
    occurred_at: datetime = msgspec.field(default_factory=utc_now)
    correlation_id: str | None = None
    causation_id: str | None = None
    metadata: Metadata = msgspec.field(default_factory=dict)


class StoredEvent(msgspec.Struct, frozen=True, gc=False):
    """An event as the journal holds it: position assigned, data still JSON bytes."""

    position: int
    stream: str
    version: int
    type: str
    schema_version: int
    data: bytes
    event_id: uuid.UUID
    occurred_at: datetime
    correlation_id: str | None
    causation_id: str | None
    metadata: Metadata

    @property
    def category(self) -> str:
        return category_of(self.stream)

    @property
    def stream_id(self) -> str:
        return id_of(self.stream)

    def decoded(self, data: D, type: str | None = None) -> Recorded[D]:
        """This envelope around ``data``; ``type`` is the canonical name when the
        event was stored under an alias."""
        return Recorded(
            self.position,
            self.stream,
            self.version,
            self.type if type is None else type,
            self.schema_version,
            data,
            self.event_id,
            self.occurred_at,
            self.correlation_id,
            self.causation_id,
            self.metadata,
        )


class Folded(msgspec.Struct, frozen=True, gc=False):
    """A stored event as recovery folds it, without what only readers want (stream,
    event id, times, correlation): a journal may hand these out for a stream range
    holding no metadata and no system event, where a full envelope is never built."""

    position: int
    version: int
    type: str
    schema_version: int
    data: bytes
    metadata: Metadata


class Recorded(msgspec.Struct, Generic[E], frozen=True, gc=False):
    """A decoded event with its envelope.

    ``schema_version`` is the version the event was *stored* with, even though
    ``data`` has been upcast to the current shape: handlers chosen by version
    select on what was originally written.
    """

    position: int
    stream: str
    version: int
    type: str
    schema_version: int
    data: E
    event_id: uuid.UUID
    occurred_at: datetime
    correlation_id: str | None
    causation_id: str | None
    metadata: Metadata

    @property
    def category(self) -> str:
        """The aggregate root's category (``room`` for ``room-42``)."""
        return category_of(self.stream)

    @property
    def stream_id(self) -> str:
        """The aggregate root's id (``42`` for ``room-42``)."""
        return id_of(self.stream)
