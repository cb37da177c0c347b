"""The default ``kiroku serve`` runs its projections in a supervised child process.

The child is restarted when it dies (reads wait, nothing is lost), it stops
with the server, and it does not outlive a server killed with SIGKILL; the
operations page's actions reach it, errors included; ``--projections inline``
keeps one process.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
from chat_server import ChatServer, alive, bearer, children


def wait_until(check: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(check) or not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def post(client: httpx.Client, token: str, room: str, body: str) -> int:
    answer = client.post(f"/api/rooms/{room}/messages", json={"body": body}, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    position: int = answer.json()["position"]
    return position


def messages(client: httpx.Client, token: str, room: str, at: int) -> list[str]:
    answer = client.get(
        f"/api/rooms/{room}/messages", params={"min_position": at}, headers=bearer(token)
    )
    assert answer.status_code == 200, answer.text
    return [m["body"] for m in answer.json()["messages"]]


def test_the_projector_child_is_restarted_and_loses_nothing(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    try:
        token = server.add_user("ann", admin=True)
        (child,) = children(server.process.pid)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            made = client.post("/api/rooms", json={"name": "r"}, headers=bearer(token)).json()
            room = made["room_id"]
            assert messages(client, token, room, post(client, token, room, "one")) == ["one"]
            os.kill(child, signal.SIGKILL)
            wait_until(lambda: not alive(child))
            at = post(client, token, room, "two")  # written while no projector runs
            assert messages(client, token, room, at) == ["two", "one"]  # waits for the new child
            (again,) = children(server.process.pid)
            assert again != child
            wait_until(lambda: client.get("/readyz").status_code == 200)
        assert "the projector process exited" in server.log()
    finally:
        assert server.stop() == 0
    assert children(server.process.pid) == []


def test_the_child_does_not_outlive_a_killed_server(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    (child,) = children(server.process.pid)
    server.kill()
    wait_until(lambda: not alive(child))
    server = server.restart()  # the data directory is free again
    assert server.stop() == 0


def test_a_stop_signal_to_both_processes_stops_them_without_a_restart(tmp_path: Path) -> None:
    """Ctrl-C in a terminal signals the whole process group, as systemd's stop does:
    the child stops on the signal too, and the stopping server must not take that
    for a crash and start another."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        server = ChatServer.start(tmp_path / f"data-{sig.name}")
        (child,) = children(server.process.pid)
        os.kill(server.process.pid, sig)
        os.kill(child, sig)
        assert server.process.wait(30) == 0, server.log()
        log = server.log()
        assert "the projector process exited" not in log, log
        assert log.count("kiroku: roles projector") == 1, log


def test_operations_and_their_errors_cross_to_the_child(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    try:
        token = server.add_user("ann", admin=True)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            admin = "/api/admin"
            missing = client.post(f"{admin}/parked/chat.rooms/99/retry", headers=bearer(token))
            assert missing.status_code == 404
            assert "no parked event #99" in missing.json()["detail"]
            started = client.post(f"{admin}/projections/chat.rooms/rebuild", headers=bearer(token))
            assert started.status_code == 202
            busy = client.post(f"{admin}/projections/chat.rooms/rebuild", headers=bearer(token))
            assert busy.status_code in (202, 409)  # 409 while the first still runs

            def done() -> bool:
                rows = client.get(f"{admin}/projections", headers=bearer(token)).json()
                task = {r["name"]: r["task"] for r in rows["projections"]}["chat.rooms"]
                return task is not None and task["state"] == "done"

            wait_until(done)
    finally:
        assert server.stop() == 0


def test_inline_projections_keep_one_process(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data", extra=("--projections", "inline"))
    try:
        token = server.add_user("ann", admin=True)
        assert children(server.process.pid) == []
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            made = client.post("/api/rooms", json={"name": "r"}, headers=bearer(token)).json()
            room = made["room_id"]
            assert messages(client, token, room, post(client, token, room, "one")) == ["one"]
    finally:
        assert server.stop() == 0
