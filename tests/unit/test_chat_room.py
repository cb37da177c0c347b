"""The Room decider as given/when/then tables: events so far, a command, then
the events it decides or the rejection it raises."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given as hgiven
from hypothesis import settings
from hypothesis import strategies as st

from kiroku import DomainError, NotAllowedError, NotFoundError
from kiroku.apps.chat import commands as c
from kiroku.apps.chat import events as e
from kiroku.apps.chat import rules as r
from kiroku.apps.chat.room import Room, RoomState
from kiroku.testing import given

ROOM = "r1"
CREATED = e.RoomCreated(ROOM, "general", "ann", ("ann", "bob"))
POSTED = e.MessagePosted(ROOM, "m1", "bob", "hello")


def decide(history: Sequence[e.RoomEvent], command: c.RoomCommand) -> list[e.RoomEvent]:
    room = Room()
    return list(room.decide(command, room.fold(history)))


@pytest.mark.parametrize(
    ("history", "command", "expected"),
    [
        ([], c.CreateRoom(ROOM, "general", "ann", ("bob", "ann", "bob")), [CREATED]),
        ([CREATED], c.CreateRoom(ROOM, "general", "ann"), []),
        ([CREATED], c.RenameRoom(ROOM, "random", "bob"), [e.RoomRenamed(ROOM, "random", "bob")]),
        ([CREATED], c.RenameRoom(ROOM, "general", "bob"), []),
        ([CREATED], c.AddMember(ROOM, "cy", "bob"), [e.MemberAdded(ROOM, "cy", "bob")]),
        ([CREATED], c.RemoveMember(ROOM, "bob", "ann"), [e.MemberRemoved(ROOM, "bob", "ann")]),
        ([CREATED], c.RemoveMember(ROOM, "bob", "bob"), [e.MemberRemoved(ROOM, "bob", "bob")]),
        ([CREATED], c.PostMessage(ROOM, "m1", "hello", "bob"), [POSTED]),
        ([CREATED, POSTED], c.PostMessage(ROOM, "m1", "hello", "bob"), []),
        (
            [CREATED, POSTED],
            c.EditMessage(ROOM, "m1", "hi", "bob"),
            [e.MessageEdited(ROOM, "m1", "hi", "bob")],
        ),
        (
            [CREATED, POSTED],
            c.DeleteMessage(ROOM, "m1", "ann"),
            [e.MessageDeleted(ROOM, "m1", "ann")],
        ),
        (
            [CREATED, POSTED, e.MessageDeleted(ROOM, "m1", "bob")],
            c.DeleteMessage(ROOM, "m1", "bob"),
            [],
        ),
        ([CREATED, POSTED], c.MarkRead(ROOM, "m1", "ann"), [e.ReadMarked(ROOM, "ann", "m1")]),
        ([CREATED, POSTED, e.ReadMarked(ROOM, "ann", "m1")], c.MarkRead(ROOM, "m1", "ann"), []),
        (
            [CREATED, POSTED, e.RoomArchived(ROOM, "ann")],
            c.MarkRead(ROOM, "m1", "ann"),
            [e.ReadMarked(ROOM, "ann", "m1")],
        ),
        ([CREATED], c.ArchiveRoom(ROOM, "ann"), [e.RoomArchived(ROOM, "ann")]),
    ],
)
def test_accepted(
    history: list[e.RoomEvent], command: c.RoomCommand, expected: list[e.RoomEvent]
) -> None:
    given(Room(), *history).when(command).then(*expected)


ARCHIVED = [CREATED, POSTED, e.RoomArchived(ROOM, "ann")]
DELETED = [CREATED, POSTED, e.MessageDeleted(ROOM, "m1", "bob")]


@pytest.mark.parametrize(
    ("history", "command", "error"),
    [
        ([], c.PostMessage(ROOM, "m1", "hi", "ann"), r.RoomNotFoundError),
        ([CREATED], c.CreateRoom(ROOM, "other", "bob"), r.RoomExistsError),
        ([CREATED], c.PostMessage(ROOM, "m1", "hi", "eve"), r.NotMemberError),
        ([CREATED, POSTED], c.EditMessage(ROOM, "m1", "x", "eve"), r.NotMemberError),
        ([CREATED, POSTED], c.DeleteMessage(ROOM, "m1", "eve"), r.NotMemberError),
        ([CREATED, POSTED], c.EditMessage(ROOM, "m1", "x", "ann"), r.NotAuthorError),
        (
            [CREATED, e.MessagePosted(ROOM, "m2", "ann", "x")],
            c.DeleteMessage(ROOM, "m2", "bob"),
            r.NotAuthorError,
        ),
        (DELETED, c.EditMessage(ROOM, "m1", "x", "bob"), r.MessageDeletedError),
        ([CREATED], c.EditMessage(ROOM, "nope", "x", "bob"), r.MessageNotFoundError),
        (ARCHIVED, c.PostMessage(ROOM, "m2", "hi", "bob"), r.RoomArchivedError),
        (ARCHIVED, c.RenameRoom(ROOM, "x", "ann"), r.RoomArchivedError),
        (ARCHIVED, c.AddMember(ROOM, "cy", "ann"), r.RoomArchivedError),
        (ARCHIVED, c.ArchiveRoom(ROOM, "ann"), r.RoomArchivedError),
        (ARCHIVED, c.DeleteMessage(ROOM, "m1", "bob"), r.RoomArchivedError),
        ([CREATED], c.AddMember(ROOM, "bob", "ann"), r.AlreadyMemberError),
        ([CREATED], c.RemoveMember(ROOM, "ann", "ann"), r.LastOwnerError),
        ([CREATED], c.RemoveMember(ROOM, "cy", "ann"), r.MemberNotFoundError),
        ([CREATED], c.ArchiveRoom(ROOM, "bob"), r.NotOwnerError),
        ([CREATED, POSTED], c.PostMessage(ROOM, "m1", "hello", "ann"), r.DuplicateMessageError),
        ([], c.CreateRoom(ROOM, "", "ann"), r.InvalidTextError),
        ([], c.CreateRoom(ROOM, "   ", "ann"), r.InvalidTextError),
        ([], c.CreateRoom(ROOM, "x" * 101, "ann"), r.InvalidTextError),
        ([CREATED], c.RenameRoom(ROOM, "x" * 101, "ann"), r.InvalidTextError),
        ([CREATED], c.PostMessage(ROOM, "m1", "", "ann"), r.InvalidTextError),
        ([CREATED], c.PostMessage(ROOM, "m1", "x" * 10_001, "ann"), r.InvalidTextError),
        ([CREATED, POSTED], c.EditMessage(ROOM, "m1", "", "bob"), r.InvalidTextError),
    ],
)
def test_rejected(
    history: list[e.RoomEvent], command: c.RoomCommand, error: type[DomainError]
) -> None:
    given(Room(), *history).when(command).then_rejects(error)


def test_limits_are_inclusive() -> None:
    assert decide([], c.CreateRoom(ROOM, "x" * 100, "ann"))
    assert decide([CREATED], c.PostMessage(ROOM, "m1", "x" * 10_000, "ann"))


def test_rejections_map_to_the_statuses_the_api_promises() -> None:
    assert issubclass(r.NotMemberError, NotAllowedError)
    assert issubclass(r.NotAuthorError, NotAllowedError)
    assert issubclass(r.RoomNotFoundError, NotFoundError)
    assert issubclass(r.MessageNotFoundError, NotFoundError)
    assert issubclass(r.RoomNotFoundError, DomainError)


def test_messages_carry_the_values_involved() -> None:
    given(Room(), CREATED).when(c.PostMessage(ROOM, "m1", "hi", "eve")).then_rejects(
        r.NotMemberError, match="'eve' is not a member of room 'r1'"
    )


def test_evolve_tracks_members_messages_and_read_marks() -> None:
    state = Room().fold(
        [
            CREATED,
            POSTED,
            e.MemberAdded(ROOM, "cy", "ann"),
            e.ReadMarked(ROOM, "cy", "m1"),
            e.MemberRemoved(ROOM, "cy", "cy"),
            e.MessageDeleted(ROOM, "m1", "bob"),
        ]
    )
    assert state.members == ("ann", "bob")
    assert state.read_up_to == {}
    assert state.messages["m1"].deleted
    assert state.posted == 1


bodies = st.text(min_size=1, max_size=30).filter(str.strip)
names = st.sampled_from(["ann", "bob"])


@st.composite
def commands(draw: st.DrawFn) -> c.RoomCommand:
    mid = draw(st.sampled_from(["m1", "m2", "m3"]))
    by = draw(names)
    options: list[c.RoomCommand] = [
        c.PostMessage(ROOM, mid, draw(bodies), by),
        c.DeleteMessage(ROOM, mid, by),
        c.MarkRead(ROOM, mid, by),
        c.RenameRoom(ROOM, draw(bodies), by),
    ]
    return options[draw(st.integers(0, len(options) - 1))]


@settings(deadline=None)  # the machine is shared; a slow example is not a failure
@hgiven(st.lists(commands(), max_size=12))
def test_deciding_again_after_its_own_events_is_a_no_op(cmds: list[c.RoomCommand]) -> None:
    """A retried request (same ids) appends nothing, which makes retries safe."""
    room = Room()
    state: RoomState = room.fold([CREATED])
    for cmd in cmds:
        try:
            decided = room.decide(cmd, state)
        except DomainError:
            continue
        state = room.fold(decided, state)
        assert list(room.decide(cmd, state)) == []


def test_evolve_is_total_when_a_retraction_removed_what_later_events_refer_to() -> None:
    """Recovery without a retracted MessagePosted still folds the events after it."""
    room = Room()
    history: list[e.RoomEvent] = [
        CREATED,
        # e.MessagePosted(ROOM, "m1", "ann", "oops") was retracted
        e.MessageDeleted(ROOM, "m1", "ann"),
        e.ReadMarked(ROOM, "bob", "m1"),
        e.MemberAdded(ROOM, "bob", "ann"),  # a retracted MemberRemoved came before it
    ]
    state = room.fold(history)
    assert state.messages == {}
    assert state.read_up_to == room.fold([CREATED]).read_up_to
    assert state.members == ("ann", "bob")
