"""The chat API end to end: a real ``kiroku serve`` process, users made with the CLI,
everything driven over HTTP, every rejection checked to have appended nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from chat_server import ChatServer

Json = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    running = ChatServer.start(tmp_path_factory.mktemp("chat") / "data")
    yield running
    assert running.stop() == 0, running.log()
    assert "closed" in running.log()


@pytest.fixture(scope="module")
def tokens(server: ChatServer) -> dict[str, str]:
    made = {"ann": server.add_user("ann", admin=True)}
    for name in ("bob", "cy", "eve"):
        made[name] = server.add_user(name)
    return made


class Api:
    """One user's view of the server."""

    def __init__(self, client: httpx.AsyncClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def call(
        self, method: str, path: str, *, json: object = None, headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None, content: bytes | None = None,
    ) -> httpx.Response:  # fmt: skip
        return await self.client.request(
            method, path, json=json, content=content, params=params,
            headers={**self.headers, **(headers or {})},
        )  # fmt: skip

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Json:
        response = await self.call(method, path, **kw)
        assert response.status_code == status, response.text
        body: Json = response.json()
        return body


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        yield c


@pytest.fixture
def users(client: httpx.AsyncClient, tokens: dict[str, str]) -> dict[str, Api]:
    return {name: Api(client, token) for name, token in tokens.items()}


async def journal_head(admin: Api) -> int:
    body = await admin.ok("GET", "/api/admin/projections")
    return int(body["projections"][0]["head"])


async def test_me_names_the_caller(users: dict[str, Api]) -> None:
    assert await users["ann"].ok("GET", "/api/me") == {"name": "ann", "admin": True}
    assert await users["bob"].ok("GET", "/api/me") == {"name": "bob", "admin": False}


async def test_a_conversation_from_creation_to_archive(users: dict[str, Api]) -> None:
    ann, bob, cy = users["ann"], users["bob"], users["cy"]
    made = await ann.ok("POST", "/api/rooms", 201, json={"name": "plans", "members": ["bob"]})
    room = made["room_id"]
    assert made["version"] == 1
    assert made["position"] > 0
    path = f"/api/rooms/{room}"

    posted = await bob.ok("POST", path + "/messages", 201, json={"body": "lunch at noon?"})
    mid = posted["message_id"]
    assert posted["version"] == 2
    seen = await ann.ok("GET", path + "/messages", params={"min_position": posted["position"]})
    assert [(m["message_id"], m["author"], m["body"]) for m in seen["messages"]] == [
        (mid, "bob", "lunch at noon?")
    ]

    rooms = await ann.ok("GET", "/api/rooms", params={"min_position": posted["position"]})
    mine = next(r for r in rooms["rooms"] if r["room_id"] == room)
    assert mine["unread"] == 1
    assert mine["last_message"]["message_id"] == mid
    marked = await ann.ok("POST", path + "/read", json={"message_id": mid})
    rooms = await ann.ok("GET", "/api/rooms", params={"min_position": marked["position"]})
    assert next(r for r in rooms["rooms"] if r["room_id"] == room)["unread"] == 0

    edited = await bob.ok("PATCH", f"{path}/messages/{mid}", json={"body": "lunch at one?"})
    after_edit = await ann.ok(
        "GET", path + "/messages", params={"min_position": edited["position"]}
    )
    assert after_edit["messages"][0]["body"] == "lunch at one?"
    assert after_edit["messages"][0]["edited_at"] is not None

    found = await bob.ok(
        "GET", "/api/search", params={"q": "one", "min_position": edited["position"]}
    )
    assert [r["message_id"] for r in found["results"]] == [mid]
    assert (await cy.ok("GET", "/api/search", params={"q": "lunch"}))["results"] == []

    await ann.ok("POST", path + "/members", json={"user": "cy"})
    renamed = await ann.ok("POST", path + "/rename", json={"name": "lunch plans"})
    details = await cy.ok("GET", path, params={"min_position": renamed["position"]})
    assert details["name"] == "lunch plans"
    assert details["members"] == ["ann", "bob", "cy"]
    assert details["owner"] == "ann"
    assert details["version"] == renamed["version"]

    deleted = await ann.ok("DELETE", f"{path}/messages/{mid}")
    gone = await cy.ok("GET", path + "/messages", params={"min_position": deleted["position"]})
    assert gone["messages"][0]["deleted"] is True
    assert gone["messages"][0]["body"] == ""
    left = await cy.ok("DELETE", path + "/members/cy")
    archived = await ann.ok("POST", path + "/archive")
    assert archived["version"] == left["version"] + 1

    history = await bob.ok("GET", path + "/history", params={"min_position": archived["position"]})
    assert [e["type"] for e in history["events"]] == [
        "chat.RoomCreated", "chat.MessagePosted", "chat.ReadMarked", "chat.MessageEdited",
        "chat.MemberAdded", "chat.RoomRenamed", "chat.MessageDeleted", "chat.MemberRemoved",
        "chat.RoomArchived",
    ]  # fmt: skip

    past = await bob.ok("GET", path, params={"as_of": str(posted["position"])})
    assert past["name"] == "plans"
    assert past["archived"] is False
    assert past["version"] == 2
    then = await bob.ok("GET", path + "/messages", params={"as_of": str(edited["position"] - 1)})
    assert then["messages"][0]["body"] == "lunch at noon?"
    when = history["events"][3]["occurred_at"]  # the edit, by time
    at_edit = await bob.ok("GET", path + "/messages", params={"as_of": when})
    assert at_edit["messages"][0]["body"] == "lunch at one?"
    old_log = await bob.ok("GET", path + "/history", params={"as_of": str(posted["position"])})
    assert len(old_log["events"]) == 2


async def test_paging_with_before_and_after(users: dict[str, Api]) -> None:
    ann = users["ann"]
    room = (await ann.ok("POST", "/api/rooms", 201, json={"name": "paging"}))["room_id"]
    ids = []
    for i in range(5):
        ids.append(
            (await ann.ok("POST", f"/api/rooms/{room}/messages", 201, json={"body": f"m{i}"}))[
                "message_id"
            ]
        )
    last = await ann.ok("POST", f"/api/rooms/{room}/read", json={"message_id": ids[-1]})
    q = {"min_position": last["position"], "limit": 2}
    newest = await ann.ok("GET", f"/api/rooms/{room}/messages", params=q)
    assert [m["message_id"] for m in newest["messages"]] == [ids[4], ids[3]]
    older = await ann.ok("GET", f"/api/rooms/{room}/messages", params={**q, "before": ids[3]})
    assert [m["message_id"] for m in older["messages"]] == [ids[2], ids[1]]
    newer = await ann.ok("GET", f"/api/rooms/{room}/messages", params={**q, "after": ids[0]})
    assert [m["message_id"] for m in newer["messages"]] == [ids[2], ids[1]]


async def test_an_idempotency_key_makes_a_retry_append_nothing(users: dict[str, Api]) -> None:
    ann = users["ann"]
    key = {"Idempotency-Key": "create-standup"}
    first = await ann.ok("POST", "/api/rooms", 201, json={"name": "standup"}, headers=key)
    again = await ann.ok("POST", "/api/rooms", 201, json={"name": "standup"}, headers=key)
    assert again["room_id"] == first["room_id"]
    assert again["version"] == first["version"]
    path = f"/api/rooms/{first['room_id']}/messages"
    key = {"Idempotency-Key": "post-1"}
    one = await ann.ok("POST", path, 201, json={"body": "hi"}, headers=key)
    head = await journal_head(ann)
    two = await ann.ok("POST", path, 201, json={"body": "hi"}, headers=key)
    assert two["message_id"] == one["message_id"]
    assert two["position"] == one["position"]
    assert await journal_head(ann) == head
    listed = await ann.ok("GET", path, params={"min_position": head})
    assert len(listed["messages"]) == 1


@pytest.fixture
async def scene(users: dict[str, Api]) -> dict[str, str]:
    """Room R (ann owns, bob member) with bob's message M and deleted message D; archived A."""
    ann, bob = users["ann"], users["bob"]
    r = (await ann.ok("POST", "/api/rooms", 201, json={"name": "r", "members": ["bob"]}))["room_id"]
    m = (await bob.ok("POST", f"/api/rooms/{r}/messages", 201, json={"body": "m"}))["message_id"]
    d = (await bob.ok("POST", f"/api/rooms/{r}/messages", 201, json={"body": "d"}))["message_id"]
    await bob.ok("DELETE", f"/api/rooms/{r}/messages/{d}")
    a = (await ann.ok("POST", "/api/rooms", 201, json={"name": "a", "members": ["bob"]}))["room_id"]
    done = await ann.ok("POST", f"/api/rooms/{a}/archive")
    await ann.ok("GET", "/api/rooms", params={"min_position": done["position"]})
    return {"R": f"/api/rooms/{r}", "M": m, "D": d, "A": f"/api/rooms/{a}"}


REJECTIONS: list[tuple[str, str, str, str | None, object, int]] = [
    # (why, method, path, user, body, status); body bytes are sent raw
    ("malformed JSON", "POST", "/api/rooms", "ann", b"{not json", 400),
    ("missing field", "POST", "/api/rooms", "ann", {"members": []}, 400),
    ("wrong type", "POST", "{R}/messages", "bob", {"body": 5}, 400),
    ("no token", "POST", "/api/rooms", None, {"name": "x"}, 401),
    ("unknown token", "POST", "/api/rooms", "forged", {"name": "x"}, 401),
    ("not a member posts", "POST", "{R}/messages", "eve", {"body": "hi"}, 403),
    ("not a member reads", "GET", "{R}/messages", "eve", None, 403),
    ("edit someone else's", "PATCH", "{R}/messages/{M}", "ann", {"body": "x"}, 403),
    ("not a member deletes", "DELETE", "{R}/messages/{M}", "cy", None, 403),
    ("archive by a non-owner", "POST", "{R}/archive", "bob", None, 403),
    ("operations as a non-admin", "GET", "/api/admin/projections", "bob", None, 403),
    ("unknown room", "POST", "/api/rooms/nope/messages", "ann", {"body": "hi"}, 404),
    ("unknown room read", "GET", "/api/rooms/nope", "ann", None, 404),
    ("unknown message", "PATCH", "{R}/messages/nope", "bob", {"body": "x"}, 404),
    ("body too large", "POST", "{R}/messages", "bob", {"body": "x" * 70_000}, 413),
    ("empty body", "POST", "{R}/messages", "bob", {"body": ""}, 422),
    ("body too long", "POST", "{R}/messages", "bob", {"body": "x" * 10_001}, 422),
    ("name too long", "POST", "{R}/rename", "ann", {"name": "x" * 101}, 422),
    ("empty name", "POST", "/api/rooms", "ann", {"name": " "}, 422),
    ("archived room", "POST", "{A}/messages", "bob", {"body": "hi"}, 422),
    ("existing member", "POST", "{R}/members", "ann", {"user": "bob"}, 422),
    ("last owner", "DELETE", "{R}/members/ann", "ann", None, 422),
    ("edit a deleted message", "PATCH", "{R}/messages/{D}", "bob", {"body": "x"}, 422),
    ("unknown user", "POST", "{R}/members", "ann", {"user": "nobody"}, 422),
    ("position not written yet", "GET", "/api/rooms", "ann", None, 422),
    ("nonsense as_of", "GET", "{R}/messages?as_of=yesterday", "bob", None, 400),
]


@pytest.mark.parametrize(
    ("why", "method", "path", "user", "body", "status"), REJECTIONS, ids=[r[0] for r in REJECTIONS]
)
async def test_a_rejection_answers_its_status_and_appends_nothing(
    users: dict[str, Api], client: httpx.AsyncClient, scene: dict[str, str],
    why: str, method: str, path: str, user: str | None, body: object, status: int,
) -> None:  # fmt: skip
    caller = users.get(user or "", Api(client, "forged" if user else None))
    before = await journal_head(users["ann"])
    params = {"min_position": 10**9} if why == "position not written yet" else None
    kw: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    response = await caller.call(method, path.format(**scene), params=params, **kw)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert response.json()["detail"]
    assert await journal_head(users["ann"]) == before, f"{why} appended an event"


async def wait_for_task(admin: Api, name: str) -> Json:
    """Replays run in the background; their state shows in the projection list."""
    async with asyncio.timeout(30):
        while True:
            listed = await admin.ok("GET", "/api/admin/projections")
            row = next(p for p in listed["projections"] if p["name"] == name)
            if row["task"] and row["task"]["state"] != "running":
                return dict(row["task"])
            await asyncio.sleep(0.05)


async def test_operations_over_http(users: dict[str, Api], client: httpx.AsyncClient) -> None:
    ann = users["ann"]
    made = await ann.ok("POST", "/api/rooms", 201, json={"name": "ops", "members": ["bob"]})
    room = made["room_id"]
    posted = await ann.ok("POST", f"/api/rooms/{room}/messages", 201, json={"body": "audit me"})
    path = f"/api/rooms/{room}/messages"
    before = await ann.ok("GET", path, params={"min_position": posted["position"]})

    one = await ann.ok("GET", f"/api/admin/events/{posted['position']}")
    assert one["event"]["stream"] == f"room-{room}"
    assert one["event"]["data"]["body"] == "audit me"
    outcomes = {e["projection"]: e["outcome"] for e in one["ledger"]}
    assert outcomes == dict.fromkeys(
        ["chat.history", "chat.rooms", "chat.search", "chat.timeline"], "applied"
    )
    in_stream = await ann.ok("GET", "/api/admin/events", params={"stream": f"room-{room}"})
    assert [e["type"] for e in in_stream["events"]] == ["chat.MessagePosted", "chat.RoomCreated"]
    params = {"stream": f"room-{room}", "after": 0}  # oldest first from a position
    oldest = await ann.ok("GET", "/api/admin/events", params=params)
    assert [e["type"] for e in oldest["events"]] == ["chat.RoomCreated", "chat.MessagePosted"]
    assert (await ann.ok("GET", "/api/admin/parked"))["parked"] == []

    started = await ann.ok(
        "POST", "/api/admin/projections/chat.timeline/replay", 202, json={"from_position": 1}
    )
    assert started["name"] == "chat.timeline"
    task = await wait_for_task(ann, "chat.timeline")
    assert task["state"] == "done", task
    when = one["event"]["occurred_at"]
    await ann.ok("POST", "/api/admin/projections/chat.search/replay", 202, json={"from_time": when})
    assert (await wait_for_task(ann, "chat.search"))["state"] == "done"
    after = await ann.ok("GET", path, params={"min_position": posted["position"]})
    assert after == before
    missing = await ann.call("POST", "/api/admin/projections/nope/rebuild")
    assert missing.status_code == 404
    too_far = await ann.call(
        "POST", "/api/admin/projections/chat.rooms/replay", json={"from_position": 10**9}
    )
    assert too_far.status_code == 422  # well formed, past the journal's head

    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'kiroku_http_requests_total{method="POST",route="/api/rooms",status="201"}' in metrics.text
    )
    assert "kiroku_projection_position" in metrics.text
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json()["status"] == "ready"
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
