"""The chat read models in process: what they hold after a conversation, and that a
room's past view built from its own events equals what live processing built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from kits.hosts import HostMaker

from kiroku import Codec, MemoryJournal
from kiroku.apps.chat import app
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.past import room_as_of
from kiroku.apps.chat.room import Room
from kiroku.apps.chat.views import History, Rooms, Search, Timeline
from kiroku.projections import Document, Projection, ProjectionHost, ProjectionStore, ReadView
from kiroku.runtime import Runtime


@pytest.fixture
async def world(
    make_host: HostMaker,
) -> AsyncIterator[tuple[Runtime, ProjectionHost, MemoryJournal]]:
    journal = MemoryJournal()
    codec = Codec(app.registry)
    runtime = Runtime(journal, app.deciders, codec=codec)
    host = make_host(journal, *app.projections, codec=codec)
    yield runtime, host, journal
    await runtime.close()


async def converse(runtime: Runtime) -> None:
    run = runtime.execute
    await run(Room, "r1", c.CreateRoom("r1", "general", "ann", ("bob",)))
    await run(Room, "r1", c.PostMessage("r1", "m1", "hello bob", "ann"))
    await run(Room, "r1", c.PostMessage("r1", "m2", "hi ann", "bob"))
    await run(Room, "r1", c.PostMessage("r1", "m3", "lunch?", "bob"))
    await run(Room, "r1", c.EditMessage("r1", "m3", "lunch at one?", "bob"))
    await run(Room, "r1", c.MarkRead("r1", "m2", "ann"))
    await run(Room, "r1", c.DeleteMessage("r1", "m1", "ann"))
    await run(Room, "r2", c.CreateRoom("r2", "other", "bob"))
    await run(Room, "r1", c.AddMember("r1", "cy", "bob"))


async def dump(view: ReadView, collections: tuple[str, ...]) -> dict[str, list[Document]]:
    """Room r1's documents (the past view holds only that room's)."""
    return {
        name: await view.collection(name).query({"room_id": "r1"}, order_by="id")
        for name in collections
    }


async def test_read_models_after_a_conversation(
    world: tuple[Runtime, ProjectionHost, MemoryJournal],
) -> None:
    runtime, host, _ = world
    await converse(runtime)
    await host.catch_up()
    timeline = host.reader("chat.timeline").collection("messages")
    m1 = await timeline.get("r1:m1")
    m3 = await timeline.get("r1:m3")
    assert m1 is not None
    assert m1["deleted"] is True
    assert m1["body"] == ""
    assert m3 is not None
    assert m3["body"] == "lunch at one?"
    assert m3["edited_at"] is not None
    rooms = host.reader("chat.rooms")
    room = await rooms.collection("rooms").get("r1")
    assert room is not None
    assert room["members"] == ["ann", "bob", "cy"]
    assert room["version"] == 9 - 1  # r2's creation is another stream
    unread_for_ann = await rooms.collection("msgs").count(
        {"room_id": "r1", "deleted": False}, filters=[("seq", ">", 3), ("author", "!=", "ann")]
    )
    assert unread_for_ann == 1  # m3; ann read up to m2 (seq 3)
    found = await host.reader("chat.search").text_index("messages").search("Lunch")
    assert [f["message_id"] for f in found] == ["m3"]


@pytest.mark.parametrize(
    ("projection", "collections"),
    [
        (Timeline(), ("messages",)),
        (Rooms(), ("rooms", "members", "msgs")),
        (History(), ("events",)),
    ],
)
async def test_a_rooms_past_view_at_the_head_equals_live_processing(
    world: tuple[Runtime, ProjectionHost, MemoryJournal],
    projection: Projection,
    collections: tuple[str, ...],
) -> None:
    runtime, host, journal = world
    await run_only_r1(runtime)
    await host.catch_up()
    live = await dump(host.reader(projection.name), collections)
    head = await journal.head_position()
    async with room_as_of(projection, journal, host.codec, "room-r1", head) as view:
        past = await dump(view, collections)
    assert past == live


async def run_only_r1(runtime: Runtime) -> None:
    await converse(runtime)
    await runtime.execute(Room, "r1", c.RenameRoom("r1", "renamed", "ann"))


async def test_a_past_view_stops_at_the_position_asked_for(
    world: tuple[Runtime, ProjectionHost, MemoryJournal],
) -> None:
    runtime, host, journal = world
    await converse(runtime)
    async with room_as_of(Timeline(), journal, host.codec, "room-r1", 3) as view:
        docs = await view.collection("messages").query(order_by="seq")
    assert [(d["message_id"], d["body"]) for d in docs] == [("m1", "hello bob"), ("m2", "hi ann")]


async def test_a_search_store_from_before_the_text_index_moves_into_it(tmp_path: Path) -> None:
    store = ProjectionStore(tmp_path / "search.db", "chat.search")
    async with store.transaction() as tx:
        await tx.execute(
            "CREATE VIRTUAL TABLE search USING fts5(body, room_id UNINDEXED,"
            " message_id UNINDEXED, author UNINDEXED, posted_at UNINDEXED)"
        )
        await tx.execute("CREATE TABLE search_rows (key TEXT PRIMARY KEY, row INTEGER NOT NULL)")
        await tx.execute(
            "INSERT INTO search(rowid, body, room_id, message_id, author, posted_at)"
            " VALUES (7, 'lunch at noon', 'r1', 'm1', 'ann', 't')"
        )
        await tx.execute("INSERT INTO search_rows VALUES ('r1:m1', 7)")
    async with store.transaction(immediate=False) as tx:
        await Search().setup(tx)
    async with store.transaction(immediate=False) as tx:
        await Search().setup(tx)  # once: nothing left to move
    view = store.reader()
    found = await view.text_index("messages").search("lunch")
    assert found == [
        {"room_id": "r1", "message_id": "m1", "author": "ann", "posted_at": "t",
         "text": "lunch at noon"}
    ]  # fmt: skip
    assert await view.query("SELECT name FROM sqlite_master WHERE name = 'search'") == []
    view.close()
    store.close()
