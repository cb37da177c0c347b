"""The embedded system split in two processes on the same files: ``--role write,read``
beside ``--role projector``. Reads with ``min_position`` and live streams keep working
across the process boundary, woken by push from the projector process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from chat_server import ChatServer
from kits.processes import start_projector
from sse_reader import data_of


def _kiroku(*args: str) -> list[str]:
    return [sys.executable, "-c", "from kiroku.cli import main; main()", *args]


def _env() -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "KIROKU_DATA"}, "PYTHONUNBUFFERED": "1"}


pytestmark = pytest.mark.slow


@pytest.fixture
def split(tmp_path: Path) -> Iterator[tuple[ChatServer, subprocess.Popen[bytes]]]:
    data = tmp_path / "data"
    data.mkdir()
    web = ChatServer.start(data, extra=("--role", "write,read"))
    projector, _ = start_projector(data)
    try:
        yield web, projector
    finally:
        projector.terminate()
        assert projector.wait(30) == 0
        assert web.stop() == 0


@pytest.fixture
async def client(
    split: tuple[ChatServer, subprocess.Popen[bytes]],
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=split[0].base_url, timeout=30) as c:
        yield c


async def test_reads_and_live_streams_follow_a_projector_in_another_process(
    split: tuple[ChatServer, subprocess.Popen[bytes]], client: httpx.AsyncClient
) -> None:
    web, _ = split
    ann = {"Authorization": f"Bearer {web.add_user('ann')}"}
    bob_token = web.add_user("bob")
    made = await client.post("/api/rooms", json={"name": "split", "members": ["bob"]}, headers=ann)
    assert made.status_code == 201, made.text
    room, position = made.json()["room_id"], made.json()["position"]
    rooms = await client.get("/api/rooms", params={"min_position": position}, headers=ann)
    assert rooms.status_code == 200, rooms.text
    assert [r["room_id"] for r in rooms.json()["rooms"]] == [room]
    path = f"/api/rooms/{room}/stream"
    async with client.stream("GET", path, params={"access_token": bob_token}) as stream:
        for i in range(3):
            posted = await client.post(
                f"/api/rooms/{room}/messages", json={"body": f"hi {i}"}, headers=ann
            )
            assert posted.status_code == 201
        events = await data_of(stream, 3)
    assert [e["data"]["body"] for e in events] == ["hi 0", "hi 1", "hi 2"]
    last = posted.json()["position"]
    seen = await client.get(
        f"/api/rooms/{room}/messages", params={"min_position": last}, headers=ann
    )
    assert sorted(m["body"] for m in seen.json()["messages"]) == ["hi 0", "hi 1", "hi 2"]
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert sorted(ready.json()["roles"]) == ["read", "write"]


def test_unreachable_nats_at_start_is_a_clear_error_and_a_failed_exit(tmp_path: Path) -> None:
    done = subprocess.run(
        _kiroku("--data", str(tmp_path), "serve", "--role", "projector",
                "--bus", "nats://127.0.0.1:1"),
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "nats://127.0.0.1:1" in done.stderr
    assert "unavailable" in done.stderr


def test_an_unknown_role_is_refused_before_anything_opens(tmp_path: Path) -> None:
    done = subprocess.run(
        _kiroku("--data", str(tmp_path / "d"), "serve", "--role", "writer"),
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "writer" in done.stderr
    assert not (tmp_path / "d").exists()
