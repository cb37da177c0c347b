"""What happens in a chat room, as facts in the past tense.

Every event carries ``room_id``: the aggregate root is an attribute of every
event (pitfall 5), and each event carries only what belongs to that one change
(pitfall 4), so a consumer never has to join two events to understand one.
Stored names are explicit and versioned; moving this module rewrites nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from kiroku import Registry, event
from kiroku.corrections import EventRetracted

__all__ = [
    "REGISTRY",
    "MemberAdded",
    "MemberRemoved",
    "MessageDeleted",
    "MessageEdited",
    "MessagePosted",
    "ReadMarked",
    "RoomArchived",
    "RoomCreated",
    "RoomEvent",
    "RoomRenamed",
]

REGISTRY = Registry([EventRetracted])
"""The chat's own event types (and retractions): never the default registry, so an
app of one's own that uses ``DEFAULT_REGISTRY`` does not list the chat's types."""


@event("chat.RoomCreated", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class RoomCreated:
    room_id: str
    name: str
    owner: str
    members: tuple[str, ...]  # the owner first, then the invited members


@event("chat.RoomRenamed", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class RoomRenamed:
    room_id: str
    name: str
    by: str


@event("chat.MemberAdded", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class MemberAdded:
    room_id: str
    user: str
    by: str


@event("chat.MemberRemoved", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class MemberRemoved:
    room_id: str
    user: str
    by: str


@event("chat.MessagePosted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class MessagePosted:
    room_id: str
    message_id: str
    author: str
    body: str


@event("chat.MessageEdited", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class MessageEdited:
    room_id: str
    message_id: str
    body: str
    by: str


@event("chat.MessageDeleted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class MessageDeleted:
    room_id: str
    message_id: str
    by: str


@event("chat.ReadMarked", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class ReadMarked:
    """``user`` has read the room up to and including ``message_id``."""

    room_id: str
    user: str
    message_id: str


@event("chat.RoomArchived", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class RoomArchived:
    room_id: str
    by: str


RoomEvent: TypeAlias = (
    RoomCreated
    | RoomRenamed
    | MemberAdded
    | MemberRemoved
    | MessagePosted
    | MessageEdited
    | MessageDeleted
    | ReadMarked
    | RoomArchived
)
