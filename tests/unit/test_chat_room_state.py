"""The packed room state decides exactly as the dict-per-message state did.

``room_v1`` is the implementation before the messages were packed into arrays;
it is the oracle. Histories mix recorded events (any order, re-posted ids,
events about unknown messages), decided commands, snapshot round trips, v1
snapshots upcast, and folds that branch from an older state, which is where a
shared append-only log could leak one branch's messages into another.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, fields, replace
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from room_v1 import RoomStateV1, RoomV1

from kiroku import DomainError
from kiroku.apps.chat import commands as c
from kiroku.apps.chat import events as e
from kiroku.apps.chat.messages import Messages, Packed
from kiroku.apps.chat.room import Room, RoomState
from kiroku.apps.chat.room_snapshot import UPCASTERS, RoomSnapshot

ROOM = "r1"
HEX = ("0123456789abcdef" * 2, "fedcba9876543210" * 2)
IDS = st.sampled_from(["m1", "m2", "m3", "é", *HEX])
USERS = st.sampled_from(["ann", "bob", "cy"])
EVENTS = (
    e.RoomCreated,
    e.RoomRenamed,
    e.MemberAdded,
    e.MemberRemoved,
    e.MessagePosted,
    e.MessageEdited,
    e.MessageDeleted,
    e.ReadMarked,
    e.RoomArchived,
)
ROOM_ = Room()
ORACLE = RoomV1()


def _events() -> st.SearchStrategy[e.RoomEvent]:
    return st.one_of(
        st.builds(e.MessagePosted, st.just(ROOM), IDS, USERS, st.just("hi")),
        st.builds(e.MessageDeleted, st.just(ROOM), IDS, USERS),
        st.builds(e.ReadMarked, st.just(ROOM), USERS, IDS),
        st.builds(e.MemberAdded, st.just(ROOM), USERS, USERS),
        st.builds(e.MemberRemoved, st.just(ROOM), USERS, USERS),
        st.builds(e.MessageEdited, st.just(ROOM), IDS, st.just("edit"), USERS),
    )


def _commands() -> st.SearchStrategy[c.RoomCommand]:
    return st.one_of(
        st.builds(c.PostMessage, st.just(ROOM), IDS, st.sampled_from(["hi", " "]), USERS),
        st.builds(c.EditMessage, st.just(ROOM), IDS, st.just("edit"), USERS),
        st.builds(c.DeleteMessage, st.just(ROOM), IDS, USERS),
        st.builds(c.MarkRead, st.just(ROOM), IDS, USERS),
        st.builds(c.AddMember, st.just(ROOM), USERS, USERS),
        st.builds(c.RemoveMember, st.just(ROOM), USERS, USERS),
        st.builds(c.ArchiveRoom, st.just(ROOM), USERS),
    )


@dataclass(frozen=True)
class Rewind:
    """Continue from the state this many steps back (a branching fold)."""

    back: int


@dataclass(frozen=True)
class Snapshot:
    """Replace the state by its v2 snapshot, or by the oracle's v1 snapshot upcast."""

    v1: bool


STEPS = st.lists(
    st.one_of(
        _events(),
        _commands(),
        st.builds(Rewind, st.integers(1, 6)),
        st.builds(Snapshot, st.booleans()),
    ),
    max_size=40,
)


def _outcome(decider: Any, cmd: c.RoomCommand, state: Any) -> object:
    try:
        return list(decider.decide(cmd, state))
    except DomainError as err:
        return (type(err).__name__, str(err))


def _messages(state: RoomState | RoomStateV1) -> dict[str, tuple[str, int, bool]]:
    return {k: (v.author, v.seq, v.deleted) for k, v in state.messages.items()}


def _same(new: RoomState, old: RoomStateV1) -> None:
    assert _messages(new) == _messages(old)
    assert (new.members, new.read_up_to, new.posted, new.archived) == (
        old.members,
        old.read_up_to,
        old.posted,
        old.archived,
    )


def _round_trip(state: RoomState) -> RoomState:
    data = msgspec.json.encode(ROOM_.snapshot_of(state))
    return ROOM_.from_snapshot(msgspec.json.decode(data, type=ROOM_.snapshot_type))


def _upcast(old: RoomStateV1) -> RoomState:
    raw = msgspec.json.decode(msgspec.json.encode(old))
    data = msgspec.json.encode(UPCASTERS[1](raw))
    return ROOM_.from_snapshot(msgspec.json.decode(data, type=RoomSnapshot))


@settings(deadline=None, max_examples=300)  # the machine is shared; slowness is not failure
@given(STEPS)
def test_the_packed_state_decides_as_the_dict_state_did(steps: list[object]) -> None:
    created = e.RoomCreated(ROOM, "general", "ann", ("ann", "bob"))
    new, old = ROOM_.fold([created]), ORACLE.fold([created])
    history = [(new, old)]
    for step in steps:
        if isinstance(step, Rewind):
            new, old = history[max(0, len(history) - 1 - step.back)]
        elif isinstance(step, Snapshot):
            new = _upcast(old) if step.v1 else _round_trip(new)
        elif isinstance(step, EVENTS):
            new, old = ROOM_.evolve(new, step), ORACLE.evolve(old, step)
        else:
            cmd: Any = step
            decided = _outcome(ROOM_, cmd, new)
            assert decided == _outcome(ORACLE, cmd, old)
            if isinstance(decided, list):
                new, old = ROOM_.fold(decided, new), ORACLE.fold(decided, old)
        _same(new, old)
        history.append((new, old))
    for earlier_new, earlier_old in history:  # no branch leaked into another
        _same(earlier_new, earlier_old)


def test_an_old_state_stays_as_it_was_after_a_later_one_grows() -> None:
    base = Messages().posting("m1", "ann")
    grown = base.posting("m2", "bob").deleting("m1")
    branch = base.posting("m2", "cy")
    assert dict(base) == {"m1": base["m1"]}
    assert not base["m1"].deleted
    assert grown["m1"].deleted
    assert grown["m2"].author == "bob"
    assert branch["m2"].author == "cy"
    assert not branch["m1"].deleted


def test_many_messages_split_buckets_and_stay_findable() -> None:
    ids = [f"{i:032x}" for i in range(5000)] + [f"id-{i}" for i in range(5000)]
    m = Messages()
    for i, mid in enumerate(ids):
        m = m.posting(mid, f"u{i % 7}")
    half = Messages.of([(mid, f"u{i % 7}", False) for i, mid in enumerate(ids[:100])])
    assert all(m[mid].seq == i + 1 and m[mid].author == f"u{i % 7}" for i, mid in enumerate(ids))
    assert len(half) == 100
    assert half[ids[99]].seq == 100
    assert ids[100] not in half
    restored = _round_trip(RoomState(messages=m)).messages
    assert restored == m
    assert restored.posted == 10_000


def test_one_id_posted_again_and_again_does_not_split_forever() -> None:
    m = Messages()
    for i in range(300):
        m = m.posting("same", f"u{i}")
    assert m["same"] == m.get("same")
    assert m["same"].seq == 300
    assert m["same"].author == "u299"
    assert len(m) == 1


def test_a_view_packed_on_another_thread_while_the_log_grows_is_that_view() -> None:
    """The snapshotter packs on a worker thread while the actor keeps posting."""
    m = Messages()
    for i in range(3000):
        m = m.posting(f"{i:032x}", f"u{i % 5}")
    m = m.deleting(f"{7:032x}")
    view, expected = m, dict(m.items())
    packs: list[Packed] = []
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        worker = threading.Thread(target=lambda: packs.extend(view.packed() for _ in range(30)))
        worker.start()
        for i in range(3000, 30_000):  # splits and directory doublings meanwhile
            m = m.posting(f"{i:032x}", f"u{i % 9}")
            if i % 100 == 0:
                m = m.deleting(f"{i - 50:032x}")
        worker.join()
    finally:
        sys.setswitchinterval(old)
    assert len(packs) == 30
    for packed in packs:
        assert dict(Messages.unpacked(packed).items()) == expected


def test_with_messages_keeps_every_other_field() -> None:
    """``with_messages`` builds the state positionally: a field added to ``RoomState``
    must be carried over there too, and this test names every field to make it so."""
    others = {
        "room_id": ROOM, "name": "general", "owner": "ann", "members": ("ann", "bob"),
        "archived": True, "read_up_to": {"bob": 3},
    }  # fmt: skip
    assert {f.name for f in fields(RoomState)} == {*others, "messages"}
    state = RoomState(**others)  # type: ignore[arg-type]
    posted = state.messages.posting("m1", "ann")
    assert state.with_messages(posted) == replace(state, messages=posted)
