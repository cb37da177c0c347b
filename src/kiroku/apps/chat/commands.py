"""What a user asks a room to do. Commands are requests and may be rejected.

Ids (room and message) are chosen by the caller, the HTTP layer, and travel in
the command, so ``decide`` stays a pure function of command and state and a
retried command produces the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "AddMember",
    "ArchiveRoom",
    "CreateRoom",
    "DeleteMessage",
    "EditMessage",
    "MarkRead",
    "PostMessage",
    "RemoveMember",
    "RenameRoom",
    "RoomCommand",
]


@dataclass(frozen=True, slots=True)
class CreateRoom:
    room_id: str
    name: str
    by: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RenameRoom:
    room_id: str
    name: str
    by: str


@dataclass(frozen=True, slots=True)
class AddMember:
    room_id: str
    user: str
    by: str


@dataclass(frozen=True, slots=True)
class RemoveMember:
    room_id: str
    user: str
    by: str


@dataclass(frozen=True, slots=True)
class PostMessage:
    room_id: str
    message_id: str
    body: str
    by: str


@dataclass(frozen=True, slots=True)
class EditMessage:
    room_id: str
    message_id: str
    body: str
    by: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    room_id: str
    message_id: str
    by: str


@dataclass(frozen=True, slots=True)
class MarkRead:
    room_id: str
    message_id: str
    by: str


@dataclass(frozen=True, slots=True)
class ArchiveRoom:
    room_id: str
    by: str


RoomCommand: TypeAlias = (
    CreateRoom
    | RenameRoom
    | AddMember
    | RemoveMember
    | PostMessage
    | EditMessage
    | DeleteMessage
    | MarkRead
    | ArchiveRoom
)
