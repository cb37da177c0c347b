"""The operations lists over HTTP against a real ``kiroku serve``: cursors visit
every event and parked event exactly once, jumps land where asked, groups count
by error whatever the position, and bulk actions refuse what they cannot do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, server_fixture

from kiroku import NewEvent
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

POISONED = 23


server = server_fixture("lists")


@pytest.fixture(scope="module")
def ann(server: ChatServer) -> str:
    return server.add_user("ann", admin=True)


@pytest.fixture
async def http(server: ChatServer, ann: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {ann}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
        yield client


async def _poison(server: ChatServer) -> None:
    journal = await SQLiteJournal.open(server.data_dir / "journal.db")
    try:
        for i in range(POISONED):
            bad = NewEvent("chat.MessagePosted", 1, b'{"room_id": "p", "body": 42}')
            await journal.append(f"room-p{i}", ANY, [bad])
    finally:
        await journal.close()


async def _ok(http: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    answer = await http.get(path, params=params)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _parked_settled(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    for _ in range(200):
        groups = (await _ok(http, "/api/admin/parked/groups"))["groups"]
        if sum(g["count"] for g in groups) >= POISONED + 3:
            return list(groups)
        await asyncio.sleep(0.05)
    raise AssertionError(f"not parked: {groups}")


async def test_cursors_visit_every_event_once_newest_first(http: httpx.AsyncClient) -> None:
    room = (await http.post("/api/rooms", json={"name": "Lists"})).json()["room_id"]
    for i in range(12):
        await http.post(f"/api/rooms/{room}/messages", json={"body": f"m{i}"})
    head = (await _ok(http, "/api/admin/events", limit=1))["head"]
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 5}
    while True:
        page = await _ok(http, "/api/admin/events", **params)
        seen += [e["position"] for e in page["events"]]
        if page["next"] is None:
            break
        params = {"limit": 5, **page["next"]}
    assert seen == list(range(head, 0, -1))

    typed = await _ok(http, "/api/admin/events", type="chat.RoomCreated", limit=5)
    assert [e["type"] for e in typed["events"]] == ["chat.RoomCreated"]
    jumped = await _ok(http, "/api/admin/events", before=4, limit=2)
    assert [e["position"] for e in jumped["events"]] == [3, 2]
    first = jumped["events"][1]
    by_id = await _ok(http, "/api/admin/events", id=first["event_id"], limit=1)
    assert by_id["focus"] == 2
    by_time = await _ok(http, "/api/admin/events", at=first["occurred_at"], limit=1)
    assert by_time["events"][0]["position"] >= 2
    for bad in ({"at": "yesterday"}, {"id": "nope"}, {"before": "x"}):
        answer = await http.get("/api/admin/events", params=bad)
        assert answer.status_code == 400, answer.text


async def test_parked_pages_groups_and_bulk(server: ChatServer, http: httpx.AsyncClient) -> None:
    await _poison(server)
    groups = await _parked_settled(http)
    search = [g for g in groups if g["projection"] == "chat.search"]
    assert len(search) == 1  # one error, whatever the position in its text
    assert search[0]["count"] == POISONED
    assert "position N" in search[0]["error"]

    refs: list[str] = []
    params: dict[str, Any] = {"limit": 7}
    while True:
        page = await _ok(http, "/api/admin/parked", **params)
        refs += [p["ref"] for p in page["parked"]]
        assert all("traceback" not in p for p in page["parked"])
        if page["next"] is None:
            break
        params = {"limit": 7, "cursor": page["next"]}
    assert len(refs) == len(set(refs)) == POISONED + 3

    for body in (
        {"action": "skip", "refs": refs[:1]},  # no reason
        {"action": "retry"},  # nothing chosen
        {"action": "retry", "refs": ["nope"]},
        {"action": "explode", "refs": refs[:1]},
    ):
        answer = await http.post("/api/admin/parked/bulk", json=body)
        assert answer.status_code in (400, 404, 422), answer.text
    retried = await http.post("/api/admin/parked/bulk", json={"action": "retry", "refs": refs[:2]})
    assert retried.json()["failed"] == 2  # still poison: parked again, reported
    group = {"projection": "chat.search", "error": search[0]["error"]}
    skip = {"action": "skip", "group": group, "reason": "bad producer"}
    skipped = (await http.post("/api/admin/parked/bulk", json=skip)).json()
    assert skipped["done"] == skipped["selected"] == POISONED
    left = (await _ok(http, "/api/admin/parked/groups"))["groups"]
    assert [g for g in left if g["projection"] == "chat.search"] == []
    resolved = await _ok(http, "/api/admin/parked", projection="chat.search", all=1, limit=500)
    assert {p["reason"] for p in resolved["parked"]} == {"bad producer (by ann)"}
