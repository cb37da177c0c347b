"""A damaged data directory, with real ``kiroku serve`` processes: the owner lock
survives deleting ``owner.lock``; everything in the directory is owner-only; a
directory that cannot be written is refused at start, and one that stops being
writable while serving answers posts 503 with Retry-After, writes nothing half,
and serves again once it is writable."""

from __future__ import annotations

import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chat_server import ChatServer, _env, _kiroku

needs_chattr = pytest.mark.skipif(shutil.which("chattr") is None, reason="needs chattr")


def _serve_again(data: Path) -> subprocess.CompletedProcess[str]:
    """A second ``kiroku serve`` on ``data``: it must give up by itself."""
    args = _kiroku("--data", str(data), "serve", "--port", "0")
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=_env())


@pytest.fixture
def running(tmp_path: Path) -> Iterator[ChatServer]:
    server = ChatServer.start(tmp_path / "data", demo=True)
    yield server
    server.stop()


def test_deleting_owner_lock_does_not_let_a_second_server_run(running: ChatServer) -> None:
    (running.data_dir / "owner.lock").unlink()
    second = _serve_again(running.data_dir)
    assert second.returncode != 0
    assert "in use by" in second.stderr
    assert httpx.get(running.base_url + "/healthz").status_code == 200


def test_the_data_directory_and_everything_in_it_is_owner_only(running: ChatServer) -> None:
    token = running.add_user("zed", admin=True)
    with httpx.Client(base_url=running.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        room = c.post("/api/rooms", json={"name": "r"}).json()["room_id"]
        posted = c.post(f"/api/rooms/{room}/messages", json={"body": "hi"}).json()
        c.get("/api/rooms", params={"min_position": posted["position"]})
    found = {running.data_dir: stat.S_IMODE(running.data_dir.stat().st_mode)}
    found |= {p: stat.S_IMODE(p.lstat().st_mode) for p in running.data_dir.rglob("*")}
    assert (running.data_dir / "demo-tokens.json") in found
    assert (running.data_dir / "journal.db") in found
    wrong = {
        str(p): oct(mode)
        for p, mode in found.items()
        if not p.is_symlink() and mode & 0o077  # group or others may do something
    }
    assert wrong == {}


def _chattr(flag: str, data: Path) -> None:
    subprocess.run(["chattr", "-R", flag, str(data)], check=True, capture_output=True)


@needs_chattr
def test_an_unwritable_data_directory_is_refused_at_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ChatServer.start(data).stop()
    _chattr("+i", data)
    try:
        refused = _serve_again(data)
    finally:
        _chattr("-i", data)
    assert refused.returncode == 1
    assert "cannot be written" in refused.stderr


@needs_chattr
def test_storage_that_stops_taking_writes_gets_503_then_recovers(running: ChatServer) -> None:
    token = running.add_user("zed", admin=True)
    with httpx.Client(
        base_url=running.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as c:
        room = c.post("/api/rooms", json={"name": "r"}).json()["room_id"]
        path = f"/api/rooms/{room}/messages"
        first = c.post(path, json={"body": "before"}).json()
        _chattr("+i", running.data_dir)
        try:
            refused = [c.post(path, json={"body": f"during {i}" * 500}) for i in range(3)]
        finally:
            _chattr("-i", running.data_dir)
        after = c.post(path, json={"body": "after"})
        events = c.get("/api/admin/events", params={"stream": f"room-{room}"}).json()["events"]
    assert [r.status_code for r in refused] == [503, 503, 503]
    assert all("retry-after" in r.headers for r in refused)
    assert refused[0].json()["type"] == "urn:kiroku:problem:storage-unavailable"
    assert after.status_code == 201, after.text
    assert after.json()["position"] == first["position"] + 1  # nothing half-written between
    oldest_first = sorted(events, key=lambda e: e["position"])
    assert [e["data"].get("body") for e in oldest_first][1:] == ["before", "after"]
    assert running.process.poll() is None
