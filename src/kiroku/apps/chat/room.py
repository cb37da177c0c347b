"""The Room aggregate (stream ``room-<id>``): state, ``decide`` and ``evolve``.

``decide`` checks the rules against the state in memory and returns events, or
raises one of ``rules``' errors; deciding a command again after its own events
returns ``[]`` where a retry is indistinguishable from the original (posting the
same message id, deleting a deleted message, marking read what is read), so a
retried request is a no-op. ``evolve`` only folds; it never checks anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from kiroku import JSON, Decider
from kiroku.apps.chat import commands as c
from kiroku.apps.chat import events as e
from kiroku.apps.chat import rules as r
from kiroku.apps.chat.messages import MessageInfo, Messages
from kiroku.apps.chat.room_snapshot import UPCASTERS, RoomSnapshot

__all__ = ["MessageInfo", "Room", "RoomState"]


@dataclass(frozen=True, slots=True)
class RoomState:
    """The room as the rules see it; ``messages`` costs a few dozen bytes per message
    and a post O(1) (see ``messages``), however long the room's history."""

    room_id: str = ""
    name: str = ""
    owner: str = ""
    members: tuple[str, ...] = ()
    archived: bool = False
    messages: Messages = field(default_factory=Messages)
    read_up_to: dict[str, int] = field(default_factory=dict)

    @property
    def created(self) -> bool:
        return bool(self.room_id)

    @property
    def posted(self) -> int:
        return self.messages.posted

    def with_messages(self, messages: Messages) -> RoomState:
        """``replace(self, messages=...)`` for the fold's hottest step, a post: built
        directly, without ``replace``'s walk over the fields and keyword arguments."""
        return RoomState(
            self.room_id, self.name, self.owner, self.members, self.archived, messages,
            self.read_up_to,
        )  # fmt: skip


def _require_room(cmd: c.RoomCommand, state: RoomState) -> None:
    if not state.created:
        raise r.RoomNotFoundError(cmd.room_id)
    if cmd.by not in state.members:
        raise r.NotMemberError(cmd.room_id, cmd.by)


def _require_open(cmd: c.RoomCommand, state: RoomState) -> None:
    _require_room(cmd, state)
    if state.archived:
        raise r.RoomArchivedError(cmd.room_id)


def _message(state: RoomState, room_id: str, message_id: str) -> MessageInfo:
    info = state.messages.get(message_id)
    if info is None:
        raise r.MessageNotFoundError(room_id, message_id)
    return info


def _create(cmd: c.CreateRoom, state: RoomState) -> list[e.RoomEvent]:
    if state.created:
        if state.owner == cmd.by and state.name == cmd.name:
            return []  # the same request again
        raise r.RoomExistsError(cmd.room_id)
    r.check_text("room name", cmd.name, r.MAX_NAME)
    others = [m for m in dict.fromkeys(cmd.members) if m != cmd.by]
    return [e.RoomCreated(cmd.room_id, cmd.name, cmd.by, (cmd.by, *others))]


def _rename(cmd: c.RenameRoom, state: RoomState) -> list[e.RoomEvent]:
    _require_open(cmd, state)
    r.check_text("room name", cmd.name, r.MAX_NAME)
    if cmd.name == state.name:
        return []
    return [e.RoomRenamed(cmd.room_id, cmd.name, cmd.by)]


def _add(cmd: c.AddMember, state: RoomState) -> list[e.RoomEvent]:
    _require_open(cmd, state)
    if cmd.user in state.members:
        raise r.AlreadyMemberError(cmd.room_id, cmd.user)
    return [e.MemberAdded(cmd.room_id, cmd.user, cmd.by)]


def _remove(cmd: c.RemoveMember, state: RoomState) -> list[e.RoomEvent]:
    """The owner removes anyone but themselves; any member may leave, except the owner."""
    _require_open(cmd, state)
    if cmd.user not in state.members:
        raise r.MemberNotFoundError(cmd.room_id, cmd.user)
    if cmd.user == state.owner:
        raise r.LastOwnerError(cmd.room_id, cmd.user)
    if cmd.by not in (cmd.user, state.owner):
        raise r.NotOwnerError(cmd.room_id, cmd.by, f"remove {cmd.user!r}")
    return [e.MemberRemoved(cmd.room_id, cmd.user, cmd.by)]


def _post(cmd: c.PostMessage, state: RoomState) -> list[e.RoomEvent]:
    _require_open(cmd, state)
    r.check_text("message body", cmd.body, r.MAX_BODY)
    existing = state.messages.get(cmd.message_id)
    if existing is not None:
        if existing.author == cmd.by:
            return []  # the same post again
        raise r.DuplicateMessageError(cmd.room_id, cmd.message_id)
    return [e.MessagePosted(cmd.room_id, cmd.message_id, cmd.by, cmd.body)]


def _edit(cmd: c.EditMessage, state: RoomState) -> list[e.RoomEvent]:
    _require_open(cmd, state)
    info = _message(state, cmd.room_id, cmd.message_id)
    if info.deleted:
        raise r.MessageDeletedError(cmd.room_id, cmd.message_id)
    if info.author != cmd.by:
        raise r.NotAuthorError(cmd.room_id, cmd.message_id, cmd.by, info.author)
    r.check_text("message body", cmd.body, r.MAX_BODY)
    return [e.MessageEdited(cmd.room_id, cmd.message_id, cmd.body, cmd.by)]


def _delete(cmd: c.DeleteMessage, state: RoomState) -> list[e.RoomEvent]:
    """Authors delete their own messages; the owner may delete any."""
    _require_open(cmd, state)
    info = _message(state, cmd.room_id, cmd.message_id)
    if cmd.by not in (info.author, state.owner):
        raise r.NotAuthorError(cmd.room_id, cmd.message_id, cmd.by, info.author)
    if info.deleted:
        return []
    return [e.MessageDeleted(cmd.room_id, cmd.message_id, cmd.by)]


def _mark_read(cmd: c.MarkRead, state: RoomState) -> list[e.RoomEvent]:
    """Reading is not a change to the room, so it is allowed in an archived room."""
    _require_room(cmd, state)
    info = _message(state, cmd.room_id, cmd.message_id)
    if info.seq <= state.read_up_to.get(cmd.by, 0):
        return []
    return [e.ReadMarked(cmd.room_id, cmd.by, cmd.message_id)]


def _archive(cmd: c.ArchiveRoom, state: RoomState) -> list[e.RoomEvent]:
    _require_open(cmd, state)
    if cmd.by != state.owner:
        raise r.NotOwnerError(cmd.room_id, cmd.by, "archive it")
    return [e.RoomArchived(cmd.room_id, cmd.by)]


_DECIDE: dict[type, Callable[[Any, RoomState], list[e.RoomEvent]]] = {
    c.CreateRoom: _create,
    c.RenameRoom: _rename,
    c.AddMember: _add,
    c.RemoveMember: _remove,
    c.PostMessage: _post,
    c.EditMessage: _edit,
    c.DeleteMessage: _delete,
    c.MarkRead: _mark_read,
    c.ArchiveRoom: _archive,
}


def _evolve_message(state: RoomState, event: e.RoomEvent) -> RoomState:
    match event:
        case e.MessagePosted(message_id=mid, author=author):
            return state.with_messages(state.messages.posting(mid, author))
        case e.MessageDeleted(message_id=mid):
            return state.with_messages(state.messages.deleting(mid))
        case e.ReadMarked(user=user, message_id=mid):
            info = state.messages.get(mid)
            if info is not None:
                return replace(state, read_up_to={**state.read_up_to, user: info.seq})
    # MessageEdited changes nothing the rules look at; an event about a message
    # that only a retracted event posted has nothing to apply to.
    return state


class Room(Decider[RoomState, c.RoomCommand, e.RoomEvent]):
    category: ClassVar[str] = "room"
    initial = RoomState()
    # 2: the messages as packed arrays (RoomSnapshot) instead of a JSON object per message
    state_version: ClassVar[int] = 2
    snapshot_upcasters: ClassVar[Mapping[int, Callable[[dict[str, JSON]], dict[str, JSON]]]] = (
        UPCASTERS
    )

    def decide(self, command: c.RoomCommand, state: RoomState) -> Sequence[e.RoomEvent]:
        return _DECIDE[type(command)](command, state)

    def evolve(self, state: RoomState, event: e.RoomEvent) -> RoomState:
        match event:
            case e.RoomCreated(room_id=room_id, name=name, owner=owner, members=members):
                return replace(state, room_id=room_id, name=name, owner=owner, members=members)
            case e.RoomRenamed(name=name):
                return replace(state, name=name)
            case e.MemberAdded(user=user) if user not in state.members:
                return replace(state, members=(*state.members, user))
            case e.MemberRemoved(user=user):
                kept = tuple(m for m in state.members if m != user)
                marks = {u: s for u, s in state.read_up_to.items() if u != user}
                return replace(state, members=kept, read_up_to=marks)
            case e.RoomArchived():
                return replace(state, archived=True)
        return _evolve_message(state, event)

    @property
    def snapshot_type(self) -> type[RoomSnapshot]:
        return RoomSnapshot

    def snapshot_of(self, state: RoomState) -> RoomSnapshot:
        room = RoomSnapshot(
            state.room_id, state.name, state.owner, state.members, state.archived, state.read_up_to
        )
        return RoomSnapshot.packing(room, state.messages)

    def from_snapshot(self, stored: object) -> RoomState:
        if not isinstance(stored, RoomSnapshot):
            raise TypeError(f"not a RoomSnapshot: {type(stored).__qualname__}")
        return RoomState(
            stored.room_id,
            stored.name,
            stored.owner,
            stored.members,
            stored.archived,
            stored.messages(),
            stored.read_up_to,
        )
