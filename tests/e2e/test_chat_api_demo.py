"""``kiroku serve --demo``: users and rooms on first start, the same tokens on every
start, and a restart that survives what users did to the demo rooms meanwhile."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
from chat_server import ChatServer


async def test_demo_data_survives_changes_and_restarts(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data", demo=True)
    tokens = server.demo_tokens()
    assert sorted(tokens) == ["ann", "bob", "cy"]
    ann = {"Authorization": f"Bearer {tokens['ann']}"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        listed = (await client.get("/api/demo")).json()["users"]
        assert {u["name"]: u["token"] for u in listed} == tokens
        assert (
            await client.post("/api/rooms/general/rename", json={"name": "x"}, headers=ann)
        ).status_code == 200
        assert (await client.post("/api/rooms/general/archive", headers=ann)).status_code == 200
    assert server.stop() == 0, server.log()

    again = ChatServer.start(server.data_dir, demo=True)
    try:
        assert again.demo_tokens() == tokens
        async with httpx.AsyncClient(base_url=again.base_url, timeout=30) as client:
            me = await client.get("/api/me", headers={"Authorization": f"Bearer {tokens['bob']}"})
            assert me.json() == {"name": "bob", "admin": False}
            room = await client.get("/api/rooms/general", headers=ann)
            assert room.json()["archived"] is True
    finally:
        assert again.stop() == 0, again.log()


async def test_without_demo_there_are_no_demo_tokens(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            assert (await client.get("/api/demo")).status_code == 404
    finally:
        assert server.stop() == 0


def test_a_removed_demo_user_is_not_offered(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data", demo=True)
    try:
        cli = [sys.executable, "-c", "from kiroku.cli import main; main()"]
        remove = [*cli, "--data", str(server.data_dir), "users", "remove", "bob"]
        subprocess.run(remove, check=True, capture_output=True)
        with httpx.Client(base_url=server.base_url, timeout=30) as client:
            listed = client.get("/api/demo").json()["users"]
            assert [u["name"] for u in listed] == ["ann", "cy"]
    finally:
        assert server.stop() == 0
