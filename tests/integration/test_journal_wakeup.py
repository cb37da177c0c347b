"""Cross-process wake-ups: real Unix datagram sockets between journal endpoints."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from kiroku import NO_STREAM, StoredEvent
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.wakeup import CrossProcessWakeup, PeerDirectory, wakeup_dir
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


async def test_an_endpoint_bound_just_after_a_listing_is_heard(tmp_path: Path) -> None:
    """A directory's mtime moves in clock ticks (milliseconds), so an endpoint bound in
    the tick of the sender's last listing leaves the mtime as the sender saw it. It
    must be heard all the same, at once, not after the next change to the directory."""
    journal = tmp_path / "journal.db"
    a = await CrossProcessWakeup.open(journal, lambda head: None)
    late: list[CrossProcessWakeup] = []
    try:
        for round_ in range(20):  # each round: a listing, then a bind right after it
            a.announce(round_)
            heard: asyncio.Queue[int] = asyncio.Queue()
            late.append(await CrossProcessWakeup.open(journal, heard.put_nowait))
            a.announce(1000 + round_)
            assert await asyncio.wait_for(heard.get(), 5) == 1000 + round_
    finally:
        a.close()
        for endpoint in late:
            endpoint.close()


def _stamp(directory: Path, ns: int) -> None:
    os.utime(directory, ns=(ns, ns))


def test_a_peer_added_in_the_tick_of_the_last_listing_is_found(tmp_path: Path) -> None:
    """The kernel's tick simulated: the mtime set back to what the listing saw."""
    (tmp_path / "a.sock").touch()
    peers = PeerDirectory(tmp_path)
    tick = time.time_ns()
    _stamp(tmp_path, tick)
    assert peers.current() == [str(tmp_path / "a.sock")]
    (tmp_path / "b.sock").touch()
    _stamp(tmp_path, tick)
    assert sorted(peers.current()) == [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]


def test_a_listing_taken_well_after_the_last_change_is_kept(tmp_path: Path) -> None:
    """Steady state: a ``stat`` per call, no listing. (Only a change stamped with that
    same old time, which no kernel makes, goes unseen, until the periodic re-listing.)"""
    (tmp_path / "a.sock").touch()
    (tmp_path / "self.sock").touch()
    peers = PeerDirectory(tmp_path, own=tmp_path / "self.sock")
    old = time.time_ns() - 2 * PeerDirectory.TICK_NS
    _stamp(tmp_path, old)
    assert peers.current() == [str(tmp_path / "a.sock")]
    (tmp_path / "b.sock").touch()
    _stamp(tmp_path, old)
    assert peers.current() == [str(tmp_path / "a.sock")]
    _stamp(tmp_path, time.time_ns())  # a real change moves the mtime
    assert sorted(peers.current()) == [str(tmp_path / "a.sock"), str(tmp_path / "b.sock")]


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
