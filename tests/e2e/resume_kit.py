"""Shared by the tests of operations tasks taken up after a restart: a chat history
big enough to hold a rebuild at the gate of ``gated_app``, the server over it,
and the operations page's row for the gated projection."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from chat_server import ChatServer, bearer
from gated_app import GATE_AT, GATE_FILE
from kits.chat_history import conversation

from kiroku import Codec
from kiroku.apps.chat import app as chat
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.runtime import Runtime

HERE = Path(__file__).resolve().parent
NAME = "chat.rooms"
T = TypeVar("T")


def write_history(data_dir: Path, steps: int) -> int:
    """A seeded chat history in ``data_dir``'s journal; returns its head position."""

    async def write() -> int:
        journal = await SQLiteJournal.open(data_dir / "journal.db")
        try:
            async with Runtime(journal, chat.deciders, codec=Codec(chat.registry)) as runtime:
                await conversation(runtime, seed=5, steps=steps)
            return await journal.head_position()
        finally:
            await journal.close()

    data_dir.mkdir(parents=True)
    # a thread of its own: Playwright's sync API keeps an event loop on this one
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, write()).result()


def until(found: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while (value := found()) is None:
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return value


def row(http: httpx.Client) -> dict[str, Any] | None:
    """``chat.rooms``'s row on the operations page; None while the projector is away."""
    answer = http.get("/api/admin/projections")
    if answer.status_code == 503:
        return None
    assert answer.status_code == 200, answer.text
    rows: dict[str, dict[str, Any]] = {p["name"]: p for p in answer.json()["projections"]}
    return rows[NAME]


def task_when(http: httpx.Client, check: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        task = (row(http) or {}).get("task")
        return task if task is not None and check(task) else None

    return until(found)


def generation(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "read.db") as conn:
        found = conn.execute(
            "SELECT generation FROM kiroku_generations WHERE name = ?", (NAME,)
        ).fetchone()
    return 1 if found is None else int(found[0])


@contextmanager
def gated_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    """A data directory with a history, and the gate (closed later by the test)."""
    data, gate = tmp_path / "data", tmp_path / "gate"
    head = write_history(data, steps=4000)
    monkeypatch.setenv(GATE_FILE, str(gate))
    monkeypatch.setenv(GATE_AT, str(head - 100))  # past the first batches: progress shows
    yield data, head
    gate.unlink(missing_ok=True)


def serve(data: Path, projections: str = "process") -> ChatServer:
    extra = ("--app", "gated_app:app", "--projections", projections)
    return ChatServer.start(data, extra=extra, cwd=HERE)


def start_held_rebuild(server: ChatServer, head: int, token: str) -> dict[str, Any]:
    """Rebuild ``chat.rooms`` once it is caught up, and hold it at the gate."""
    gate = Path(os.environ[GATE_FILE])
    with httpx.Client(base_url=server.base_url, headers=bearer(token), timeout=30) as http:
        until(lambda: True if (row(http) or {}).get("position") == head else None)
        gate.touch()
        started = http.post(f"/api/admin/projections/{NAME}/rebuild")
        assert started.status_code == 202, started.text
        return task_when(http, lambda t: t["progress"] is not None)
