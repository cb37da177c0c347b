"""A rebuild still running when the projector child of ``kiroku serve`` is killed,
or when the whole server stops (projections in the child or inline), is taken up
by the next process that runs the projections and ends: the operations page
shows it resumed, then done, and the new generation serves.

The rebuild is held mid-way by the gate of ``gated_app`` (its ``chat.rooms``
waits at one message while a file exists), so it is surely still running when
the process goes, and still running once taken up, until the test opens the gate.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, alive, bearer, children
from gated_app import GATE_FILE
from resume_kit import (
    gated_history,
    generation,
    serve,
    start_held_rebuild,
    task_when,
    until,
)


@pytest.fixture
def gated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, int]]:
    with gated_history(tmp_path, monkeypatch) as found:
        yield found


def finish_resumed(server: ChatServer, token: str) -> dict[str, Any]:
    """The taken-up rebuild, held at the gate again; then the gate opened, its end."""
    gate = Path(os.environ[GATE_FILE])
    with httpx.Client(base_url=server.base_url, headers=bearer(token), timeout=30) as http:
        resumed = task_when(http, lambda t: t.get("resumed") == 1)
        assert (resumed["kind"], resumed["state"], resumed["error"]) == ("rebuild", "running", None)
        assert generation(server.data_dir) == 1  # the interrupted one swapped nothing
        gate.unlink()
        return task_when(http, lambda t: t["state"] != "running")


def test_a_rebuild_in_a_killed_projector_child_is_resumed_by_the_next(
    gated: tuple[Path, int],
) -> None:
    data, head = gated
    server = serve(data)
    try:
        token = server.add_user("ann", admin=True)
        task = start_held_rebuild(server, head, token)
        assert (task["state"], task["resumed"]) == ("running", 0)
        (child,) = children(server.process.pid)
        os.kill(child, signal.SIGKILL)
        until(lambda: True if not alive(child) else None)
        ended = finish_resumed(server, token)
        assert (ended["state"], ended["resumed"], ended["error"]) == ("done", 1, None)
        assert ended["progress"]["position"] == ended["progress"]["target"] >= head
        assert generation(data) == 2
        assert "resumed the rebuild of chat.rooms" in server.log()
    finally:
        assert server.stop() == 0, server.log()


@pytest.mark.parametrize("projections", ["process", "inline"])
def test_a_rebuild_running_at_a_graceful_stop_is_resumed_at_the_next_start(
    gated: tuple[Path, int], projections: str
) -> None:
    """A stop is no outcome: the task stays running in the record, as after a crash,
    whether the projections run in the child or in the server's one process."""
    data, head = gated
    server = serve(data, projections)
    try:
        token = server.add_user("ann", admin=True)
        start_held_rebuild(server, head, token)
    finally:
        assert server.stop() == 0, server.log()
    server = serve(data, projections)
    try:
        ended = finish_resumed(server, token)
        assert (ended["state"], ended["resumed"]) == ("done", 1)
        assert generation(data) == 2
    finally:
        assert server.stop() == 0, server.log()
