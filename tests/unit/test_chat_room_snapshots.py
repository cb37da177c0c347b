"""Room snapshots on a real SQLite journal: the v1 shape still loads, v2 round-trips,
and a damaged snapshot is ignored in favour of the events."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from room_v1 import RoomV1

from kiroku import Retention, Runtime
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.room import Room
from kiroku.apps.chat.room_snapshot import RoomSnapshot
from kiroku.journal.sqlite import SQLiteJournal

ROOM = "r1"
STREAM = f"room-{ROOM}"


async def _fill(runtime: Runtime, decider: Any) -> None:
    await runtime.execute(decider, ROOM, c.CreateRoom(ROOM, "general", "ann", ("bob",)))
    for i in range(23):
        by = "ann" if i % 3 else "bob"
        await runtime.execute(decider, ROOM, c.PostMessage(ROOM, f"m{i}", "hi", by))
    await runtime.execute(decider, ROOM, c.DeleteMessage(ROOM, "m4", "ann"))
    await runtime.execute(decider, ROOM, c.MarkRead(ROOM, "m7", "bob"))


def _view(state: Any) -> object:
    messages = {k: (v.author, v.seq, v.deleted) for k, v in state.messages.items()}
    return (state.name, state.members, state.read_up_to, state.posted, messages)


async def test_a_v1_snapshot_is_upcast_even_when_retention_deleted_the_events_before_it(
    tmp_path: Path,
) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        old = Runtime(journal, [RoomV1()], snapshot_every=10, retention=Retention(keep=1))
        async with old:
            await _fill(old, RoomV1)
            before = await old.state(RoomV1, ROOM)
        snapshot = await journal.load_snapshot(STREAM)
        assert snapshot is not None
        assert snapshot.state_version == 1
        assert (await journal.read_stream(STREAM))[0].version > 1  # only the snapshot has them
        async with Runtime(journal, [Room()], snapshot_every=10) as new:
            after = await new.state(Room, ROOM)
            assert _view(after) == _view(before)
            reposted = await new.execute(Room, ROOM, c.PostMessage(ROOM, "m5", "hi", "ann"))
            assert reposted.events == ()  # known from the snapshot: a retry, not a new post
            await new.execute(Room, ROOM, c.PostMessage(ROOM, "m-new", "hi", "bob"))
            assert (await new.state(Room, ROOM)).messages["m-new"].seq == 24
    finally:
        await journal.close()


async def test_a_v2_snapshot_restores_the_same_state(tmp_path: Path) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        async with Runtime(journal, [Room()], snapshot_every=5) as first:
            await _fill(first, Room)
            before = await first.state(Room, ROOM)
        snapshot = await journal.load_snapshot(STREAM)
        assert snapshot is not None
        assert snapshot.state_version == 2
        async with Runtime(journal, [Room()]) as second:
            assert _view(await second.state(Room, ROOM)) == _view(before)
    finally:
        await journal.close()


DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "ends": lambda b: b[:-8],
    "bucket_sizes": lambda b: (int.from_bytes(b, "little") - 1).to_bytes(4, "little"),
    "seqs": lambda b: b[:-4] + (99).to_bytes(4, "little"),
    "bucket_depths": lambda b: b"\x01",
    "author_of": lambda b: b[:-4] + (7).to_bytes(4, "little"),
}


@pytest.mark.parametrize("part", sorted(DAMAGE))
async def test_a_damaged_snapshot_is_ignored_and_the_room_refolded(
    tmp_path: Path, part: str
) -> None:
    journal = await SQLiteJournal.open(tmp_path / "journal.db")
    try:
        async with Runtime(journal, [Room()], snapshot_every=5) as first:
            await _fill(first, Room)
            before = await first.state(Room, ROOM)
        snapshot = await journal.load_snapshot(STREAM)
        assert snapshot is not None
        stored = msgspec.json.decode(snapshot.data, type=RoomSnapshot)
        changes: dict[str, Any] = {part: DAMAGE[part](getattr(stored, part))}
        broken = dataclasses.replace(stored, **changes)
        damaged = msgspec.json.encode(broken)
        await journal.save_snapshot(dataclasses.replace(snapshot, data=damaged))
        async with Runtime(journal, [Room()]) as second:
            assert _view(await second.state(Room, ROOM)) == _view(before)
    finally:
        await journal.close()
