"""The caller's room list, live (``GET /api/stream``) against a real server: pushed
when the rooms read model commits, whole lists with unread counts and last
messages, and nothing sent for changes that do not touch the caller's rooms."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, bearer, server_fixture

Rooms = dict[str, dict[str, Any]]


server = server_fixture("room-list")


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {name: server.add_user(name) for name in ("ann", "bob")}


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        yield c


async def next_rooms(lines: AsyncIterator[str]) -> Rooms:
    """The next ``rooms`` event off the stream, as {room name: summary}."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(15):
        async for line in lines:
            if line == "" and fields.get("event") == "rooms":
                rooms = json.loads(fields["data"])["rooms"]
                return {room["name"]: room for room in rooms}
            if line == "":
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    raise AssertionError("the stream ended")


async def room(client: httpx.AsyncClient, token: str, name: str, members: list[str]) -> str:
    made = await client.post(
        "/api/rooms", json={"name": name, "members": members}, headers=bearer(token)
    )
    assert made.status_code == 201, made.text
    room_id: str = made.json()["room_id"]
    return room_id


async def post(client: httpx.AsyncClient, token: str, room_id: str, body: str) -> str:
    made = await client.post(
        f"/api/rooms/{room_id}/messages", json={"body": body}, headers=bearer(token)
    )
    assert made.status_code == 201, made.text
    message_id: str = made.json()["message_id"]
    return message_id


async def test_unread_counts_of_every_room_are_pushed_as_they_change(
    client: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    ann, bob = tokens["ann"], tokens["bob"]
    alpha = await room(client, ann, "alpha", ["bob"])
    beta = await room(client, ann, "beta", ["bob"])
    private = await room(client, ann, "private", [])
    ready = await client.get(
        "/api/rooms", params={"min_position": 3}, headers=bearer(bob)
    )  # both rooms are in bob's list before he connects
    assert len(ready.json()["rooms"]) == 2

    async with client.stream("GET", "/api/stream", params={"access_token": bob}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.aiter_lines()
        first = await next_rooms(lines)
        assert sorted(first) == ["alpha", "beta"]
        assert first["beta"]["unread"] == 0

        message = await post(client, ann, beta, "lunch at noon?")
        pushed = await next_rooms(lines)
        assert pushed["beta"]["unread"] == 1
        assert pushed["beta"]["last_message"]["body"] == "lunch at noon?"
        assert pushed["alpha"]["unread"] == 0

        marked = await client.post(
            f"/api/rooms/{beta}/read", json={"message_id": message}, headers=bearer(bob)
        )
        assert marked.status_code == 200, marked.text
        assert (await next_rooms(lines))["beta"]["unread"] == 0

        await post(client, ann, private, "not for bob")  # bob's list does not change...
        await post(client, ann, alpha, "standup moved")
        after = await next_rooms(lines)  # ...so the next push is already alpha's
        assert after["alpha"]["unread"] == 1
        assert after["alpha"]["last_message"]["body"] == "standup moved"


async def test_the_room_list_stream_needs_a_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/stream")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


async def test_each_pushed_list_is_the_list_read_whole(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    """Pushes rebuild only the changed room's entry; after every kind of change the
    list must still equal ``GET /api/rooms`` read whole (entries, counts, order)."""
    cy, dan = server.add_user("cy"), server.add_user("dan")
    one, two = await room(client, cy, "one", ["dan"]), await room(client, cy, "two", ["dan"])
    mine = await client.post("/api/rooms", json={"name": "mine"}, headers=bearer(dan))
    params = {"min_position": mine.json()["position"]}  # all three in dan's list first
    assert (
        len((await client.get("/api/rooms", params=params, headers=bearer(dan))).json()["rooms"])
        == 3
    )

    async def changed(answer: httpx.Response, lines: AsyncIterator[str]) -> None:
        assert answer.status_code < 300, answer.text
        pushed = await next_list(lines)
        whole = await client.get("/api/rooms", params={"min_position": answer.json()["position"]},
                                 headers=bearer(dan))  # fmt: skip
        assert pushed == whole.json()["rooms"]

    async with client.stream("GET", "/api/stream", params={"access_token": dan}) as stream:
        lines = stream.aiter_lines()
        assert len(await next_list(lines)) == 3
        body = {"body": "hi"}
        first = await client.post(f"/api/rooms/{one}/messages", json=body, headers=bearer(cy))
        await changed(first, lines)  # the first change reads the whole list
        second = await client.post(f"/api/rooms/{two}/messages", json=body, headers=bearer(cy))
        await changed(second, lines)
        own = await client.post(f"/api/rooms/{one}/messages", json=body, headers=bearer(dan))
        await changed(own, lines)
        made = {"name": "three", "members": ["dan"]}
        await changed(await client.post("/api/rooms", json=made, headers=bearer(cy)), lines)
        gone = f"/api/rooms/{one}/messages/{first.json()['message_id']}"
        await changed(await client.delete(gone, headers=bearer(cy)), lines)
        read = {"message_id": second.json()["message_id"]}
        marked = await client.post(f"/api/rooms/{two}/read", json=read, headers=bearer(dan))
        await changed(marked, lines)
        removed = await client.delete(f"/api/rooms/{two}/members/dan", headers=bearer(cy))
        await changed(removed, lines)
        assert sorted(r["name"] for r in await _whole(client, dan)) == ["mine", "one", "three"]


async def _whole(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    rooms: list[dict[str, Any]] = (await client.get("/api/rooms", headers=bearer(token))).json()[
        "rooms"
    ]
    return rooms


async def next_list(lines: AsyncIterator[str]) -> list[dict[str, Any]]:
    """The next ``rooms`` event off the stream, as sent (ordered)."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(15):
        async for line in lines:
            if line == "" and fields.get("event") == "rooms":
                rooms: list[dict[str, Any]] = json.loads(fields["data"])["rooms"]
                return rooms
            if line == "":
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    raise AssertionError("the stream ended")
