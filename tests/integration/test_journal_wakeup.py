"""Cross-process wake-ups: real Unix datagram sockets between journal endpoints."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kiroku import NO_STREAM, StoredEvent
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.wakeup import CrossProcessWakeup, wakeup_dir
from kiroku.testing.journal_contract import new_events


async def test_an_announced_head_reaches_every_other_endpoint(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    heard: dict[str, asyncio.Queue[int]] = {"a": asyncio.Queue(), "b": asyncio.Queue()}
    a = await CrossProcessWakeup.open(journal, heard["a"].put_nowait)
    b = await CrossProcessWakeup.open(journal, heard["b"].put_nowait)
    try:
        a.announce(7)
        assert await asyncio.wait_for(heard["b"].get(), 5) == 7
        assert heard["a"].empty()  # an endpoint does not wake itself
    finally:
        a.close()
        b.close()
    assert list(wakeup_dir(journal).iterdir()) == []


async def test_a_dead_endpoint_is_removed_and_others_still_hear(tmp_path: Path) -> None:
    journal = tmp_path / "journal.db"
    heard: asyncio.Queue[int] = asyncio.Queue()
    a = await CrossProcessWakeup.open(journal, lambda head: None)
    b = await CrossProcessWakeup.open(journal, heard.put_nowait)
    stale = wakeup_dir(journal) / "999999-dead.sock"
    stale.touch()  # a socket path nobody listens on: its process died
    try:
        a.announce(3)
        assert await asyncio.wait_for(heard.get(), 5) == 3
        assert not stale.exists()
    finally:
        a.close()
        b.close()


async def test_journals_on_different_files_do_not_wake_each_other(tmp_path: Path) -> None:
    heard: asyncio.Queue[int] = asyncio.Queue()
    a = await CrossProcessWakeup.open(tmp_path / "one.db", lambda head: None)
    b = await CrossProcessWakeup.open(tmp_path / "two.db", heard.put_nowait)
    try:
        a.announce(1)
        await asyncio.sleep(0.05)
        assert heard.empty()
    finally:
        a.close()
        b.close()


async def _next_batch(journal: SQLiteJournal, after: int) -> list[StoredEvent]:
    subscription = journal.subscribe(after)
    try:
        return await asyncio.wait_for(anext(subscription), 10)
    finally:
        await subscription.aclose()  # type: ignore[attr-defined]


async def test_an_append_through_another_journal_object_wakes_a_waiting_subscriber(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path) as writer, await SQLiteJournal.open(path) as reader:
        waiting = asyncio.create_task(_next_batch(reader, 0))
        await asyncio.sleep(0.05)  # let it read (nothing) and go to sleep
        assert not waiting.done()
        await writer.append("room-1", NO_STREAM, new_events(1))
        batch = await waiting
        assert [e.stream for e in batch] == ["room-1"]


async def test_an_append_by_another_process_wakes_a_waiting_subscriber(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    script = (
        "import asyncio, sys\n"
        "from kiroku.journal.sqlite import SQLiteJournal\n"
        "from kiroku.testing.journal_contract import new_events\n"
        "async def main():\n"
        "    async with await SQLiteJournal.open(sys.argv[1]) as j:\n"
        "        await j.append('room-2', 0, new_events(2))\n"
        "asyncio.run(main())\n"
    )
    async with await SQLiteJournal.open(path) as reader:
        waiting = asyncio.create_task(_next_batch(reader, 0))
        await asyncio.sleep(0.05)
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(path))
        assert await child.wait() == 0
        batch = await waiting
        assert [(e.stream, e.version) for e in batch] == [("room-2", 1), ("room-2", 2)]
