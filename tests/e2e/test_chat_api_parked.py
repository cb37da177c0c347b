"""Parked events over HTTP against a real ``kiroku serve``: a poisoned event appended
by another process is parked by every projection that handles its type; a retry that
fails again answers 409 and keeps it parked; a skip needs a reason, records who, and
lets a stopped projection run on; every refusal is a problem document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, server_fixture
from chat_server import bearer as auth

Json = dict[str, Any]
PROBLEM = "application/problem+json"


server = server_fixture("parked")


@pytest.fixture
async def http(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


async def parked_at(http: httpx.AsyncClient, admin: str, position: int, count: int) -> list[Json]:
    """Wait (bounded) until ``count`` projections parked the event at ``position``."""
    rows: list[Json] = []
    for _ in range(200):
        params = {"all": 1}  # resolved ones too: the record of a skip stays
        answer = await http.get("/api/admin/parked", headers=auth(admin), params=params)
        assert answer.status_code == 200, answer.text
        rows = [p for p in answer.json()["parked"] if p["position"] == position]
        if len(rows) >= count:
            return sorted(rows, key=lambda p: str(p["projection"]))
        await asyncio.sleep(0.05)
    raise AssertionError(f"the event at {position} was not parked {count} times: {rows}")


async def test_a_poisoned_event_is_parked_then_retried_and_skipped_on_the_record(
    server: ChatServer, http: httpx.AsyncClient
) -> None:
    ann, bob = server.add_user("ann", admin=True), server.add_user("bob")
    position = server.append_poison()
    rows = await parked_at(http, ann, position, 4)
    assert [p["projection"] for p in rows] == [
        "chat.history", "chat.rooms", "chat.search", "chat.timeline",
    ]  # fmt: skip
    timeline = next(p for p in rows if p["projection"] == "chat.timeline")
    assert (await http.get("/readyz")).status_code == 503  # the timeline stopped at it
    base = f"/api/admin/parked/chat.timeline/{timeline['id']}"

    again = await http.post(f"{base}/retry", headers=auth(ann))
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == PROBLEM
    assert "retry of chat.timeline" in again.json()["detail"]
    still = await parked_at(http, ann, position, 4)
    assert next(p for p in still if p["projection"] == "chat.timeline")["status"] == "parked"

    refusals = [
        (await http.post(f"{base}/skip", headers=auth(bob), json={"reason": "x"}), 403),
        (await http.post(f"{base}/skip", headers=auth(ann), json={}), 400),
        (await http.post(f"{base}/skip", headers=auth(ann), json={"reason": "   "}), 400),
        (await http.post(f"{base}/skip", headers=auth(ann), content=b"{nope"), 400),
        (await http.post("/api/admin/parked/chat.timeline/999/retry", headers=auth(ann)), 404),
        (await http.post(f"/api/admin/parked/nope/{timeline['id']}/retry", headers=auth(ann)), 404),
    ]
    for answer, status in refusals:
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM

    for p in rows:
        path = f"/api/admin/parked/{p['projection']}/{p['id']}/skip"
        skipped = await http.post(path, headers=auth(ann), json={"reason": "a producer bug"})
        assert skipped.status_code == 200, skipped.text
        assert skipped.json() == {"name": p["projection"], "id": p["id"], "status": "skipped"}
    done = await parked_at(http, ann, position, 4)
    assert {(p["status"], p["reason"]) for p in done} == {("skipped", "a producer bug (by ann)")}
    twice = await http.post(f"{base}/retry", headers=auth(ann))
    assert twice.status_code == 400, twice.text
    assert "already skipped" in twice.json()["detail"]

    # the stopped projections run on: a new message reaches the read side
    room = await http.post("/api/rooms", json={"name": "After"}, headers=auth(ann))
    room_id = room.json()["room_id"]
    posted = await http.post(
        f"/api/rooms/{room_id}/messages", json={"body": "still here"}, headers=auth(ann)
    )
    listed = await http.get(
        f"/api/rooms/{room_id}/messages",
        params={"min_position": posted.json()["position"]},
        headers=auth(ann),
    )
    assert listed.status_code == 200, listed.text
    assert [m["body"] for m in listed.json()["messages"]] == ["still here"]
    assert (await http.get("/readyz")).status_code == 200
    ledger = await http.get(f"/api/admin/events/{position}", headers=auth(ann))
    outcomes = {entry["projection"]: entry["outcome"] for entry in ledger.json()["ledger"]}
    assert outcomes["chat.timeline"] == "explicitly-skipped"
