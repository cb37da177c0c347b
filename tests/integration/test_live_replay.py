"""A stream's replay (after ``Last-Event-ID``) stops at the caller's own removal, as
published chunks do: a removal that happened after the access check is honoured
even when the stream is still reading history (real SQLite journal and read stores)."""

from __future__ import annotations

from pathlib import Path

from kiroku import Journal
from kiroku.api.fanout import Listener
from kiroku.apps.chat import Room, app
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.node import open_node
from kiroku.journal.sqlite import SQLiteJournal


async def _journal(data: Path) -> Journal:
    return await SQLiteJournal.open(data / "journal.db")


async def test_a_replay_is_cut_at_a_removal_after_the_check(tmp_path: Path) -> None:
    node = await open_node(tmp_path, app, _journal)
    await node.start()
    try:
        run = node.write.runtime.execute
        await run(Room, "r", c.CreateRoom("r", "R", "ann", ("bob",)))
        for i in range(3):
            await run(Room, "r", c.PostMessage("r", f"m{i}", "before", "ann"))
        checked = 4  # bob's access was checked here, then:
        await run(Room, "r", c.RemoveMember("r", "bob", "ann"))
        done = await run(Room, "r", c.PostMessage("r", "late", "after", "ann"))
        await node.read.host.wait_for(done.position, 10, ["chat.history"])
        bob = Listener("r", "bob")
        bob.checked_at = checked
        page = await node.read.hub.replay_room(bob, 1)
        admin = Listener("r", "ann", admin=True)
        admin.checked_at = checked
        whole = await node.read.hub.replay_room(admin, 1)
    finally:
        await node.close()
    assert [version for version, _ in page] == [2, 3, 4, 5]  # through the removal, no further
    assert b"chat.MemberRemoved" in page[-1][1]
    assert bob.ended
    assert bob.final() == b'event: end\ndata: {"reason":"member-removed"}\n\n'
    assert [version for version, _ in whole] == [2, 3, 4, 5, 6]
    assert not admin.ended
