"""Retraction and the catalog over HTTP against a real ``kiroku serve``: the report
(position, version, late flag, blast radius from the ledger), and every refusal —
not an admin, unknown position, already retracted, a system event, no reason —
answered with a problem document and nothing appended to the journal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from chat_server import ChatServer, server_fixture
from chat_server import bearer as auth

Json = dict[str, Any]
PROBLEM = "application/problem+json"


server = server_fixture("retract")


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    return {"ann": server.add_user("ann", admin=True), "bob": server.add_user("bob")}


@pytest.fixture
async def http(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


async def head(http: httpx.AsyncClient, admin: str) -> int:
    events = await http.get("/api/admin/events", params={"limit": 1}, headers=auth(admin))
    return int(events.json()["events"][0]["position"])  # newest first


async def caught_up(http: httpx.AsyncClient, admin: str, position: int) -> list[str]:
    """Wait (bounded) until every projection processed ``position``; their names."""
    for _ in range(200):
        rows = (await http.get("/api/admin/projections", headers=auth(admin))).json()
        if all(row["position"] >= position for row in rows["projections"]):
            return sorted(row["name"] for row in rows["projections"])
        await asyncio.sleep(0.05)
    raise AssertionError(f"projections did not reach position {position}")


async def posted(http: httpx.AsyncClient, token: str, body: str) -> Json:
    room = await http.post("/api/rooms", json={"name": "Sales"}, headers=auth(token))
    room_id = room.json()["room_id"]
    message = await http.post(
        f"/api/rooms/{room_id}/messages", json={"body": body}, headers=auth(token)
    )
    assert message.status_code == 201, message.text
    return {"room_id": room_id, **message.json()}


async def refused(
    http: httpx.AsyncClient, admin: str, token: str, position: int, status: int,
    reason: str = "wrong",
) -> str:  # fmt: skip
    """Ask ``token`` to retract; expect a problem with ``status`` and an unchanged journal."""
    before = await head(http, admin)
    answer = await http.post(
        f"/api/admin/events/{position}/retract", json={"reason": reason}, headers=auth(token)
    )
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert await head(http, admin) == before  # nothing appended
    detail: str = answer.json()["detail"]
    return detail


async def test_a_retraction_reports_position_lateness_and_blast_radius(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    ann = tokens["ann"]
    message = await posted(http, ann, "card 4111 charged twice")
    consumers = await caught_up(http, ann, message["position"])
    detail = await http.get(f"/api/admin/events/{message['position']}", headers=auth(ann))
    applied = sorted(e["projection"] for e in detail.json()["ledger"] if e["outcome"] == "applied")

    answer = await http.post(
        f"/api/admin/events/{message['position']}/retract",
        json={"reason": "posted by mistake"}, headers=auth(ann),
    )  # fmt: skip

    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["retracted_position"] == message["position"]
    assert report["retracted_type"] == "chat.MessagePosted"
    assert report["position"] == await head(http, ann)
    assert report["version"] == message["version"] + 1  # in the original's stream
    assert report["late"] is False
    occurred = datetime.fromisoformat(detail.json()["event"]["occurred_at"])
    assert datetime.fromisoformat(report["window_closed_at"]) - occurred == timedelta(hours=24)
    assert applied
    assert set(applied) <= set(consumers)
    assert [x["consumer"] for x in report["blast_radius"]] == applied
    assert {x["outcome"] for x in report["blast_radius"]} == {"processed"}
    written = await http.get(f"/api/admin/events/{report['position']}", headers=auth(ann))
    event = written.json()["event"]
    assert event["data"]["retracted_by"] == "ann"
    assert event["data"]["reason"] == "posted by mistake"


async def test_refusals_are_problems_and_append_nothing(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    ann, bob = tokens["ann"], tokens["bob"]
    message = await posted(http, ann, "to be retracted once")
    position = message["position"]

    assert "not an admin" in await refused(http, ann, bob, position, 403)
    assert await refused(http, ann, ann, 999_999, 404)
    assert await refused(http, ann, ann, position, 400, reason="   ")
    done = await http.post(
        f"/api/admin/events/{position}/retract", json={"reason": "dup"}, headers=auth(ann)
    )
    assert done.status_code == 201, done.text
    again = await refused(http, ann, ann, position, 409)
    assert f"already retracted at position {done.json()['position']}" in again
    system = await refused(http, ann, ann, done.json()["position"], 409)
    assert "system event" in system


async def test_the_catalog_is_served_as_json_and_mermaid(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    answer = await http.get("/api/admin/catalog", headers=auth(tokens["ann"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [a["category"] for a in body["catalog"]["aggregates"]] == ["room"]
    posted_info = next(e for e in body["catalog"]["events"] if e["name"] == "chat.MessagePosted")
    assert posted_info["emitted_by"] == ["room"]
    assert "chat.timeline" in posted_info["handled_by"]
    assert body["mermaid"].startswith("flowchart LR")
    assert "agg_room -->|chat.MessagePosted| con_chat_timeline" in body["mermaid"]
    forbidden = await http.get("/api/admin/catalog", headers=auth(tokens["bob"]))
    assert forbidden.status_code == 403


async def rebuilt(http: httpx.AsyncClient, admin: str, names: set[str], position: int) -> None:
    """Wait (bounded) until ``names`` met the retraction at ``position`` and the rebuilds
    it called for are done. A runner notes the rebuild with its checkpoint and launches
    it at once, so a projection past ``position`` shows the note until its rebuild swaps
    (a rebuild already running may have excluded the retraction itself)."""
    rows: list[Json] = []
    for _ in range(400):
        answer = await http.get("/api/admin/projections", headers=auth(admin))
        assert answer.status_code == 200, answer.text
        rows = answer.json()["projections"]
        found = {row["name"]: row for row in rows if row["name"] in names}
        if len(found) == len(names) and all(
            row["position"] >= position
            and not row["rebuild_pending"]
            and (row["task"] or {}).get("kind") == "rebuild"
            and row["task"]["state"] == "done"
            for row in found.values()
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"rebuilds of {sorted(names)} did not finish: {rows}")


async def test_a_retracted_message_leaves_the_read_models_and_the_room(
    http: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    ann = tokens["ann"]
    room = await http.post("/api/rooms", json={"name": "Ops"}, headers=auth(ann))
    room_id = room.json()["room_id"]
    messages = f"/api/rooms/{room_id}/messages"
    kept = await http.post(messages, json={"body": "zebra kept"}, headers=auth(ann))
    oops = await http.post(messages, json={"body": "zebra oops"}, headers=auth(ann))
    oops_id = oops.json()["message_id"]
    await caught_up(http, ann, oops.json()["position"])

    answer = await http.post(
        f"/api/admin/events/{oops.json()['position']}/retract",
        json={"reason": "posted in the wrong room"}, headers=auth(ann),
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    await rebuilt(
        http, ann, {"chat.timeline", "chat.rooms", "chat.search"}, answer.json()["position"]
    )

    listed = await http.get(messages, headers=auth(ann))
    assert [m["body"] for m in listed.json()["messages"]] == ["zebra kept"]
    found = await http.get("/api/search", params={"q": "zebra"}, headers=auth(ann))
    assert [hit["message_id"] for hit in found.json()["results"]] == [kept.json()["message_id"]]
    # the aggregate recovered without the retracted message: it no longer exists there
    edit = await http.patch(f"{messages}/{oops_id}", json={"body": "x"}, headers=auth(ann))
    assert edit.status_code == 404, edit.text
    after = await http.post(messages, json={"body": "after"}, headers=auth(ann))
    assert after.status_code == 201, after.text
    assert after.json()["version"] == answer.json()["version"] + 1
