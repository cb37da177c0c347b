"""Live room streams (server-sent events) against a real server: pushed as the read
side commits, resumable with Last-Event-ID, token in the query for browsers."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, bearer, server_fixture

server = server_fixture("live")


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {"ann": server.add_user("ann"), "bob": server.add_user("bob")}


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        yield c


async def sse_events(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    """Parse ``count`` events (id, event, data) off an open text/event-stream."""
    found: list[dict[str, Any]] = []
    fields: dict[str, Any] = {}
    async with asyncio.timeout(15):
        async for line in response.aiter_lines():
            if line == "":
                if "data" in fields:
                    fields["data"] = json.loads(fields["data"])
                    found.append(fields)
                    if len(found) == count:
                        return found
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return found


async def make_room(client: httpx.AsyncClient, token: str) -> tuple[str, int]:
    return await make_room_for(client, token, ["bob"])


async def make_room_for(
    client: httpx.AsyncClient, token: str, members: list[str]
) -> tuple[str, int]:
    made = await client.post(
        "/api/rooms", json={"name": "live", "members": members}, headers=bearer(token)
    )
    assert made.status_code == 201, made.text
    body = made.json()
    await client.get("/api/rooms", params={"min_position": body["position"]}, headers=bearer(token))
    return body["room_id"], body["position"]


async def test_a_listener_sees_messages_posted_after_it_connected(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    room, _ = await make_room(client, tokens["ann"])
    path = f"/api/rooms/{room}/stream"
    async with client.stream("GET", path, params={"access_token": tokens["bob"]}) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        for i in range(3):
            posted = await client.post(
                f"/api/rooms/{room}/messages", json={"body": f"hello {i}"},
                headers=bearer(tokens["ann"]),
            )  # fmt: skip
            assert posted.status_code == 201
        events = await sse_events(stream, 3)
    assert [e["id"] for e in events] == ["2", "3", "4"]
    assert [e["event"] for e in events] == ["chat.MessagePosted"] * 3
    assert [e["data"]["data"]["body"] for e in events] == ["hello 0", "hello 1", "hello 2"]
    assert all(e["data"]["position"] > 0 for e in events)


async def test_a_reconnecting_listener_resumes_after_last_event_id(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    room, _ = await make_room(client, tokens["ann"])
    for i in range(4):
        await client.post(
            f"/api/rooms/{room}/messages", json={"body": f"m{i}"}, headers=bearer(tokens["ann"])
        )
    headers = {**bearer(tokens["bob"]), "Last-Event-ID": "3"}
    async with client.stream("GET", f"/api/rooms/{room}/stream", headers=headers) as stream:
        events = await sse_events(stream, 2)
    assert [e["id"] for e in events] == ["4", "5"]
    assert [e["data"]["data"]["body"] for e in events] == ["m2", "m3"]


async def test_the_query_token_is_accepted_only_on_the_stream(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    response = await client.get("/api/rooms", params={"access_token": tokens["bob"]})
    assert response.status_code == 401


async def test_a_non_member_cannot_listen(
    client: httpx.AsyncClient, tokens: dict[str, str], server: ChatServer
) -> None:
    room, _ = await make_room(client, tokens["ann"])
    outsider = server.add_user("cy")
    response = await client.get(f"/api/rooms/{room}/stream", params={"access_token": outsider})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"


async def test_sigterm_ends_open_streams_and_the_server_exits_cleanly(tmp_path: Path) -> None:
    server = ChatServer.start(tmp_path / "data")
    token = server.add_user("ann")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        room, _ = await make_room_for(client, token, [])
        async with client.stream("GET", f"/api/rooms/{room}/stream", headers=bearer(token)) as s:
            server.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(15):
                async for _ in s.aiter_lines():
                    pass  # the server ends the stream instead of waiting on it
    assert server.process.wait(15) == 0, server.log()
    assert "closed" in server.log()
