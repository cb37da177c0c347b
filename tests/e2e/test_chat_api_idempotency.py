"""An Idempotency-Key sent again: the same request gets the first result and appends
nothing; a different request under the same key is refused (422, naming the key)
and appends nothing. Both hold after a restart, when the keys come back from the
journal, and after a snapshot, when they come back from its receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("idem") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {"ann": server.add_user("ann", admin=True), "bob": server.add_user("bob")}


@pytest.fixture
async def ann(server: ChatServer, tokens: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {tokens['ann']}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as c:
        yield c


async def _head(client: httpx.AsyncClient) -> int:
    found = (await client.get("/api/admin/events", params={"limit": 1000})).json()["events"]
    return max((e["position"] for e in found), default=0)


async def _room(client: httpx.AsyncClient, name: str) -> str:
    made = await client.post("/api/rooms", json={"name": name, "members": ["bob"]})
    assert made.status_code == 201, made.text
    room: str = made.json()["room_id"]
    return room


def _request(kind: str, room: str, message: str) -> tuple[str, str, Json | None]:
    """Pairs of (first, second) requests that differ in one way, by ``kind``."""
    base = f"/api/rooms/{room}"
    return {
        "body": ("POST", base + "/messages", {"body": "one"}),
        "body-2": ("POST", base + "/messages", {"body": "two"}),
        "type": ("POST", base + "/rename", {"name": "renamed"}),
        "type-2": ("POST", base + "/archive", None),
        "name": ("POST", base + "/rename", {"name": "first"}),
        "name-2": ("POST", base + "/rename", {"name": "second"}),
        "message": ("PATCH", f"{base}/messages/{message}", {"body": "edit"}),
        "message-2": ("PATCH", f"{base}/messages/{message}x", {"body": "edit"}),
        "member": ("DELETE", base + "/members/bob", None),
        "member-2": ("DELETE", base + "/members/ann", None),
    }[kind]


async def _send(client: httpx.AsyncClient, key: str, spec: tuple[str, str, Json | None]) -> Any:
    method, path, body = spec
    return await client.request(method, path, json=body, headers={"Idempotency-Key": key})


@pytest.mark.parametrize("kind", ["body", "type", "name", "message", "member"])
async def test_a_reused_key_with_another_request_is_refused_and_appends_nothing(
    ann: httpx.AsyncClient, kind: str
) -> None:
    room = await _room(ann, f"room-{kind}")
    posted = await ann.post(f"/api/rooms/{room}/messages", json={"body": "target"})
    message = posted.json()["message_id"]
    key = f"key-{kind}"
    first = await _send(ann, key, _request(kind, room, message))
    assert first.status_code in (200, 201), first.text
    head = await _head(ann)
    refused = await _send(ann, key, _request(kind + "-2", room, message))
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert key in refused.json()["detail"]
    assert refused.json()["type"] == "urn:kiroku:problem:idempotency-key-reused"
    assert await _head(ann) == head
    again = await _send(ann, key, _request(kind, room, message))
    assert again.status_code == first.status_code
    assert again.json() == first.json() | {"position": again.json()["position"]}
    assert await _head(ann) == head


async def test_a_reused_key_with_another_room_name_at_creation_is_refused(
    ann: httpx.AsyncClient,
) -> None:
    key = {"Idempotency-Key": "create-once"}
    first = await ann.post("/api/rooms", json={"name": "a"}, headers=key)
    assert first.status_code == 201
    head = await _head(ann)
    refused = await ann.post("/api/rooms", json={"name": "b"}, headers=key)
    assert refused.status_code == 422, refused.text
    assert "create-once" in refused.json()["detail"]
    assert await _head(ann) == head
    again = await ann.post("/api/rooms", json={"name": "a"}, headers=key)
    assert again.json()["room_id"] == first.json()["room_id"]


async def test_keys_are_per_user(server: ChatServer, tokens: dict[str, str]) -> None:
    """Another user's request under the same key is that user's own first request."""
    headers = {"Authorization": f"Bearer {tokens['ann']}", "Idempotency-Key": "shared"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        auth = {"Authorization": headers["Authorization"]}
        room = await c.post("/api/rooms", json={"name": "x", "members": ["bob"]}, headers=auth)
        path = f"/api/rooms/{room.json()['room_id']}/messages"
        mine = await c.post(path, json={"body": "ann's"}, headers=headers)
        bob = {"Authorization": f"Bearer {tokens['bob']}", "Idempotency-Key": "shared"}
        theirs = await c.post(path, json={"body": "bob's"}, headers=bob)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["message_id"] != theirs.json()["message_id"]


@pytest.mark.parametrize("posts_before_restart", [1, 150])  # 150: a snapshot covers the key
async def test_a_reused_key_is_refused_after_a_restart(
    tmp_path_factory: pytest.TempPathFactory, posts_before_restart: int
) -> None:
    running = ChatServer.start(tmp_path_factory.mktemp("restart") / "data")
    try:
        headers = {"Authorization": f"Bearer {running.add_user('ann', admin=True)}"}
        running.add_user("bob")
        async with httpx.AsyncClient(base_url=running.base_url, headers=headers) as c:
            room = await _room(c, "r")
            path = f"/api/rooms/{room}/messages"
            first = await c.post(path, json={"body": "one"}, headers={"Idempotency-Key": "k"})
            for i in range(posts_before_restart):
                await c.post(path, json={"body": f"filler {i}"})
        assert running.stop() == 0
        running = running.restart()
        async with httpx.AsyncClient(base_url=running.base_url, headers=headers) as c:
            head = await _head(c)
            refused = await c.post(path, json={"body": "two"}, headers={"Idempotency-Key": "k"})
            assert refused.status_code == 422, refused.text
            assert await _head(c) == head
            again = await c.post(path, json={"body": "one"}, headers={"Idempotency-Key": "k"})
            assert again.status_code == 201
            assert again.json()["message_id"] == first.json()["message_id"]
            assert await _head(c) == head
    finally:
        running.stop()
