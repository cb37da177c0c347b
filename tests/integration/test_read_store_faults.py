"""A damaged data directory's read side: a read store that cannot be opened is
moved aside and rebuilt; storage errors (locked, full) are retried until they
clear; a store deleted from under a running host makes it not ready."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from kits.domain import Boards, Noted, Notes, Opened, append
from kits.hosts import HostMaker, caught_up

from kiroku import MemoryJournal
from kiroku.projections import Document, RunnerState


async def notes(n: int) -> MemoryJournal:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("b"), *[Noted(f"n{i}") for i in range(n)])
    return journal


async def built(journal: MemoryJournal, data: Path) -> list[Document]:
    async with caught_up(journal, Boards(), Notes(), data=data) as host:
        return await host.reader("test.boards").collection("boards").query(order_by="id")


@pytest.mark.parametrize("damage", [b"garbage, not SQLite" * 100, b""])
@pytest.mark.parametrize("which", ["test.boards.g1.db", "read.db"])
async def test_an_unreadable_store_is_moved_aside_and_rebuilt_while_not_ready(
    tmp_path: Path, make_host: HostMaker, damage: bytes, which: str
) -> None:
    journal = await notes(30)
    expected = await built(journal, tmp_path)
    victim = tmp_path / "read" / which if which != "read.db" else tmp_path / which
    spoil(victim, damage or b"\x00" * 4096)

    host = make_host(journal, Boards(), Notes())
    kept = moved_aside(victim)
    assert [p.read_bytes() for p in kept] == [damage or b"\x00" * 4096]  # kept for inspection
    name = "test.boards" if which != "read.db" else "read.db"
    assert host.damaged[name].moved_to == kept[0]
    if which != "read.db":
        assert "rebuilding from the journal (0/31)" in (await host.unready())["test.boards"]
    await host.start()
    await host.wait_for(31)
    assert await host.unready() == {}
    assert await host.reader("test.boards").collection("boards").query(order_by="id") == expected


def spoil(path: Path, content: bytes) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(content)


def moved_aside(path: Path) -> list[Path]:
    return list(path.parent.glob(f"{path.name}.damaged-*"))


def delete(path: Path) -> None:
    path.unlink()


async def test_a_store_deleted_while_running_makes_the_host_not_ready(
    tmp_path: Path, make_host: HostMaker
) -> None:
    journal = await notes(3)
    host = make_host(journal, Boards())
    await host.start()
    await host.wait_for(4)
    assert await host.unready() == {}
    delete(tmp_path / "read" / "test.boards.g1.db")
    assert "is missing" in (await host.unready())["test.boards"]
    delete(tmp_path / "read.db")
    assert "catalog" in (await host.unready())["read.db"]


async def until(check: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait for another task's state to change (runners publish no event for it)."""
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - watching a state, bounded by the timeout
            await asyncio.sleep(0.02)


async def test_a_runner_stopped_by_a_locked_store_resumes_by_itself(
    tmp_path: Path, make_host: HostMaker
) -> None:
    journal = await notes(3)
    host = make_host(journal, Boards())
    await host.start()
    await host.wait_for(4)
    blocker = sqlite3.connect(tmp_path / "read" / "test.boards.g1.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holding the write lock too long
    position = await append(journal, "board-1", Noted("while locked"))
    runner = host.runner("test.boards")
    await until(lambda: runner.state is RunnerState.RETRYING)
    assert "locked" in (await host.unready())["test.boards"]
    blocker.execute("ROLLBACK")
    blocker.close()
    await host.wait_for(position, timeout=15)
    await until(lambda: runner.state is RunnerState.RUNNING)
    assert await host.unready() == {}
    assert runner.storage_failures >= 1


async def test_a_runner_stopped_by_a_full_disk_resumes_once_space_is_freed(
    make_host: HostMaker,
) -> None:
    journal = await notes(1)
    host = make_host(journal, Notes())
    await host.start()
    await host.wait_for(2)
    runner = host.runner("test.notes")
    conn = runner.store.conn  # SQLite's own page limit: a real SQLITE_FULL, on this file only
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    texts = [Noted("x" * 3000) for _ in range(40)]
    position = await append(journal, "board-1", *texts)
    await until(lambda: runner.state is RunnerState.RETRYING)
    assert "full" in (await host.unready())["test.notes"]
    assert runner.position == 2  # nothing committed past the failure
    conn.execute("PRAGMA max_page_count = 1000000")  # space freed
    await host.wait_for(position, timeout=15)
    assert await host.reader("test.notes").collection("notes").count() == 41
    assert await host.unready() == {}
