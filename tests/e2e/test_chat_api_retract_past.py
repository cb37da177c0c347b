"""Retracted messages stay gone from every read: ``as_of`` positions before, at and
after the retraction, the room's history live and replayed with ``?after=``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("retract-past") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def token(server: ChatServer) -> str:
    return server.add_user("ann", admin=True)


@pytest.fixture
async def ann(server: ChatServer, token: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=30) as c:
        yield c


async def _ok(response: Any, status: int = 200) -> Json:
    result = await response
    assert result.status_code == status, result.text
    body: Json = result.json()
    return body


@pytest.fixture
async def scene(ann: httpx.AsyncClient) -> Json:
    """A room with messages kept, oops (then retracted) and after; the positions between."""
    room = (await _ok(ann.post("/api/rooms", json={"name": "r"}), 201))["room_id"]
    path = f"/api/rooms/{room}/messages"
    kept = await _ok(ann.post(path, json={"body": "kept"}), 201)
    oops = await _ok(ann.post(path, json={"body": "oops, a secret"}), 201)
    between = await _ok(ann.post(path, json={"body": "between"}), 201)
    retraction = await _ok(
        ann.post(f"/api/admin/events/{oops['position']}/retract", json={"reason": "leak"}), 201
    )
    after = await _ok(ann.post(path, json={"body": "after"}), 201)
    return {
        "room": f"/api/rooms/{room}", "oops": oops, "kept": kept,
        "positions": {
            "just after the original": oops["position"],
            "before the retraction": between["position"],
            "at the retraction": retraction["position"],
            "after the retraction": after["position"],
        },
    }  # fmt: skip


async def test_as_of_never_shows_a_retracted_message(ann: httpx.AsyncClient, scene: Json) -> None:
    for label, position in scene["positions"].items():
        found = await _ok(ann.get(scene["room"] + "/messages", params={"as_of": position}))
        bodies = [m["body"] for m in found["messages"]]
        assert "oops, a secret" not in bodies, label
        assert "kept" in bodies, label
        history = await _ok(ann.get(scene["room"] + "/history", params={"as_of": position}))
        posted = [e["data"].get("body") for e in history["events"]]
        assert "oops, a secret" not in posted, label
        assert "kept" in posted, label


async def test_as_of_a_time_honours_retractions_too(ann: httpx.AsyncClient, scene: Json) -> None:
    found = await _ok(ann.get(scene["room"] + "/messages", params={"as_of": "9999-01-01"}))
    assert "oops, a secret" not in [m["body"] for m in found["messages"]]


async def test_the_history_hides_a_retracted_message_live_and_on_replay(
    ann: httpx.AsyncClient, scene: Json
) -> None:
    head = scene["positions"]["after the retraction"]
    for after in (0, scene["kept"]["version"]):
        found = await _ok(
            ann.get(scene["room"] + "/history", params={"after": after, "min_position": head})
        )
        posted = [e["data"].get("body") for e in found["events"]]
        assert "oops, a secret" not in posted, after
        assert "after" in posted
        assert all(e["position"] != scene["oops"]["position"] for e in found["events"])
