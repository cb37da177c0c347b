"""A damaged data directory, as a server meets it: a read store that is not a
database is moved aside and rebuilt while the server serves (not ready until
then); a read store deleted under a running server makes it not ready."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from chat_server import ChatServer, bearer


async def until_ready(client: httpx.AsyncClient, seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110 - polling a probe over HTTP
            await asyncio.sleep(0.1)


def spoil(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not an SQLite file" * 200)


async def test_a_corrupt_read_store_is_rebuilt_and_a_deleted_one_is_not_ready(
    tmp_path: Path,
) -> None:
    server = ChatServer.start(tmp_path / "data")
    token = server.add_user("ann", admin=True)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        room = (await client.post("/api/rooms", json={"name": "r"}, headers=bearer(token))).json()
        messages = f"/api/rooms/{room['room_id']}/messages"
        for i in range(20):
            posted = await client.post(messages, json={"body": f"m{i}"}, headers=bearer(token))
            assert posted.status_code == 201, posted.text
    assert server.stop() == 0
    store = tmp_path / "data" / "read" / "chat.timeline.g1.db"
    spoil(store)

    server = server.restart()
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
            await until_ready(client)
            page = await client.get(messages, headers=bearer(token))
            assert [m["body"] for m in page.json()["messages"]][-1] in ("m0", "m19")
            assert len(page.json()["messages"]) == 20
            log = server.wait_for_log("chat.timeline.g1.db.damaged-")
            assert "cannot be opened" in log
            assert "chat.timeline.g1.db.damaged-" in log
            assert list(store.parent.glob("chat.timeline.g1.db.damaged-*"))

            (tmp_path / "data" / "read" / "chat.search.g1.db").unlink()
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "is missing" in ready.json()["reasons"]["chat.search"]
    finally:
        server.stop()
