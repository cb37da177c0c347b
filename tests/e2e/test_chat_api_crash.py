"""Kill -9 under concurrent posting: every acknowledged message survives the restart,
and every read model equals a fresh rebuild of itself from the journal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, bearer

PROJECTIONS = ("chat.timeline", "chat.rooms", "chat.history", "chat.search")
WRITERS = 16
ENOUGH = 300  # acknowledged messages before the kill


async def post_until_refused(
    client: httpx.AsyncClient,
    path: str,
    token: str,
    writer: int,
    acked: dict[str, int],
    enough: asyncio.Event,
) -> None:
    """Post until the server dies; remember what it acknowledged (201) and where."""
    n = 0
    while True:
        try:
            response = await client.post(
                path, json={"body": f"writer {writer} message {n} word{n % 7}"},
                headers=bearer(token),
            )  # fmt: skip
        except httpx.TransportError:
            return
        if response.status_code == 201:
            acked[response.json()["message_id"]] = response.json()["position"]
            if len(acked) >= ENOUGH:
                enough.set()
        n += 1


async def all_messages(client: httpx.AsyncClient, room: str, token: str, at: int) -> list[Any]:
    found: list[Any] = []
    params: dict[str, Any] = {"limit": 500, "min_position": at}
    while True:
        page = await client.get(f"/api/rooms/{room}/messages", params=params, headers=bearer(token))
        assert page.status_code == 200, page.text
        batch = page.json()["messages"]
        found += batch
        if len(batch) < 500:
            return found
        params["before"] = batch[-1]["message_id"]


async def read_models(client: httpx.AsyncClient, room: str, tokens: dict[str, str], at: int) -> Any:
    """Everything the Read API says about the room, for both users."""
    ann, bob = bearer(tokens["ann"]), bearer(tokens["bob"])
    history = await client.get(
        f"/api/rooms/{room}/history", params={"limit": 1000, "min_position": at}, headers=ann
    )
    return {
        "messages": await all_messages(client, room, tokens["ann"], at),
        "history": history.json(),
        "rooms_ann": (await client.get("/api/rooms", headers=ann)).json(),
        "rooms_bob": (await client.get("/api/rooms", headers=bob)).json(),
        "details": (await client.get(f"/api/rooms/{room}", headers=bob)).json(),
        "search": (
            await client.get("/api/search", params={"q": "word3", "limit": 100}, headers=bob)
        ).json(),
    }


async def rebuild_all(client: httpx.AsyncClient, admin: str) -> None:
    for name in PROJECTIONS:
        started = await client.post(f"/api/admin/projections/{name}/rebuild", headers=bearer(admin))
        assert started.status_code == 202, started.text
    async with asyncio.timeout(60):
        while True:
            listed = (await client.get("/api/admin/projections", headers=bearer(admin))).json()
            states = {p["name"]: (p["task"] or {}).get("state") for p in listed["projections"]}
            assert "failed" not in states.values(), listed
            if all(s == "done" for s in states.values()):
                return
            await asyncio.sleep(0.1)


@pytest.mark.slow
async def test_sigkill_under_load_loses_no_acknowledged_message(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    tokens = {"ann": server.add_user("ann", admin=True), "bob": server.add_user("bob")}
    acked: dict[str, int] = {}
    enough = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        made = await client.post(
            "/api/rooms", json={"name": "crash", "members": ["bob"]}, headers=bearer(tokens["ann"])
        )
        room = made.json()["room_id"]
        path = f"/api/rooms/{room}/messages"
        writers = [
            asyncio.create_task(
                post_until_refused(
                    client, path, tokens["bob" if i % 2 else "ann"], i, acked, enough
                )
            )
            for i in range(WRITERS)
        ]
        async with asyncio.timeout(30):
            await enough.wait()
        server.kill()
        await asyncio.gather(*writers)
    assert len(acked) >= ENOUGH

    server = ChatServer.start(server.data_dir)
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            at = max(acked.values())
            listed = {m["message_id"] for m in await all_messages(client, room, tokens["ann"], at)}
            assert set(acked) <= listed, f"lost {len(set(acked) - listed)} acknowledged messages"
            before = await read_models(client, room, tokens, at)
            await rebuild_all(client, tokens["ann"])
            after = await read_models(client, room, tokens, at)
            assert after == before
    finally:
        assert server.stop() == 0, server.log()
