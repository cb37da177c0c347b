"""Live streams follow access as it changes, over HTTP with real server-sent events:
a removed member's room stream, a revoked user's streams and every stream when the
users file turns unreadable end at once with ``event: end`` and the reason, and
nothing posted afterwards reaches them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from chat_server import ChatServer, bearer, server_fixture
from sse_reader import Frame, SseReader

from kiroku.api.auth import USERS_FILE

server = server_fixture("live-access")


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        yield c


async def make_room(client: httpx.AsyncClient, owner: str, members: list[str]) -> str:
    made = await client.post(
        "/api/rooms", json={"name": "access", "members": members}, headers=bearer(owner)
    )
    assert made.status_code == 201, made.text
    await client.get("/api/rooms", params={"min_position": made.json()["position"]},
                     headers=bearer(owner))  # fmt: skip
    room_id: str = made.json()["room_id"]
    return room_id


async def post(client: httpx.AsyncClient, token: str, room: str, body: str) -> int:
    posted = await client.post(
        f"/api/rooms/{room}/messages", json={"body": body}, headers=bearer(token)
    )
    assert posted.status_code == 201, posted.text
    position: int = posted.json()["position"]
    return position


def bodies(frames: list[Frame]) -> list[str]:
    return [f.data["data"]["body"] for f in frames if f.event == "chat.MessagePosted"]


def remove_user(server: ChatServer, name: str) -> None:
    args = ["--data", str(server.data_dir), "users", "remove", name]
    cmd = [sys.executable, "-c", "from kiroku.cli import main; main()", *args]
    subprocess.run(cmd, check=True, capture_output=True)


async def test_a_removed_member_gets_the_end_and_nothing_posted_after(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, bob, cy = (server.add_user(n) for n in ("ann1", "bob1", "cy1"))
    room = await make_room(client, ann, ["bob1", "cy1"])
    path = f"/api/rooms/{room}/stream"
    async with (
        client.stream("GET", path, headers=bearer(bob)) as bobs,
        client.stream("GET", path, headers=bearer(cy)) as cys,
    ):
        bob_reader, cy_reader = SseReader(bobs), SseReader(cys)
        await post(client, ann, room, "before")
        gone = await client.delete(f"/api/rooms/{room}/members/bob1", headers=bearer(ann))
        assert gone.status_code in (200, 201), gone.text
        await post(client, ann, room, "after")
        seen = await bob_reader.rest()
        others = await cy_reader.until("chat.MessagePosted")
        others += await cy_reader.until("chat.MessagePosted")
    assert bodies(seen) == ["before"]
    assert [f.event for f in seen] == ["chat.MessagePosted", "chat.MemberRemoved", "end"]
    assert seen[-1].data == {"reason": "member-removed"}
    assert seen[-1].id is None
    assert bodies(others) == ["before", "after"]  # the stream itself went on for members


async def test_a_removed_member_cannot_reopen_the_stream(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, bob = server.add_user("ann2"), server.add_user("bob2")
    room = await make_room(client, ann, ["bob2"])
    gone = await client.delete(f"/api/rooms/{room}/members/bob2", headers=bearer(ann))
    assert gone.status_code < 300
    await client.get("/api/rooms", params={"min_position": gone.json()["position"]},
                     headers=bearer(ann))  # fmt: skip
    again = await client.get(f"/api/rooms/{room}/stream", headers=bearer(bob))
    assert again.status_code == 403


async def test_a_revoked_token_ends_both_kinds_of_stream(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, dan = server.add_user("ann3"), server.add_user("dan3")
    room = await make_room(client, ann, ["dan3"])
    async with (
        client.stream("GET", f"/api/rooms/{room}/stream", headers=bearer(dan)) as room_stream,
        client.stream("GET", "/api/stream", headers=bearer(dan)) as list_stream,
    ):
        rooms_reader, list_reader = SseReader(room_stream), SseReader(list_stream)
        assert (await list_reader.next()) is not None  # the list as it is now
        remove_user(server, "dan3")
        room_seen, list_seen = await rooms_reader.rest(), await list_reader.rest()
        await post(client, ann, room, "after revocation")
    assert room_seen[-1] == Frame("end", None, {"reason": "token-revoked"})
    assert list_seen[-1] == Frame("end", None, {"reason": "token-revoked"})
    assert bodies(room_seen) == []
    refused = await client.get(f"/api/rooms/{room}/stream", headers=bearer(dan))
    assert refused.status_code == 401


async def test_a_removed_member_sees_the_room_leave_their_list(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, eve = server.add_user("ann4"), server.add_user("eve4")
    room = await make_room(client, ann, ["eve4"])
    async with client.stream("GET", "/api/stream", headers=bearer(eve)) as listing:
        reader = SseReader(listing)
        first = await reader.next()
        assert first is not None
        assert [r["room_id"] for r in first.data["rooms"]] == [room]
        gone = await client.delete(f"/api/rooms/{room}/members/eve4", headers=bearer(ann))
        assert gone.status_code < 300
        after = await reader.next()
    assert after is not None
    assert after.data["rooms"] == []


async def test_a_removed_name_cannot_be_added_again(server: ChatServer) -> None:
    server.add_user("fay5")
    remove_user(server, "fay5")
    with pytest.raises(subprocess.CalledProcessError) as refused:
        server.add_user("fay5")
    assert b"never issued again" in refused.value.stderr


@pytest.mark.parametrize("header", ["\u00b2", "\u0663", "\uff15", "9" * 24, "-1", "1e3", "1_0"])
async def test_a_bad_last_event_id_is_a_400(
    client: httpx.AsyncClient, server: ChatServer, header: str
) -> None:
    ann = server.add_user(f"ann6{abs(hash(header)) % 10_000}")
    room = await make_room(client, ann, [])
    answer = await client.get(
        f"/api/rooms/{room}/stream",
        headers=[
            *((k.encode(), v.encode()) for k, v in bearer(ann).items()),
            (b"Last-Event-ID", header.encode()),
        ],
    )
    assert answer.status_code == 400, answer.text
    assert "Last-Event-ID" in answer.json()["detail"]


async def test_an_unreadable_users_file_ends_every_stream_and_answers_503(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = ChatServer.start(tmp_path_factory.mktemp("unreadable") / "data")
    try:
        ann = server.add_user("ann")
        users = server.data_dir / USERS_FILE
        good = users.read_bytes()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            room = await make_room(client, ann, [])
            async with (
                client.stream("GET", f"/api/rooms/{room}/stream", headers=bearer(ann)) as rs,
                client.stream("GET", "/api/stream", headers=bearer(ann)) as ls,
            ):
                list_reader = SseReader(ls)
                assert (await list_reader.next()) is not None
                users.write_bytes(good + b"\x00garbage")
                room_seen, list_seen = await SseReader(rs).rest(), await list_reader.rest()
            for _ in range(3):  # every request, not just the first
                answer = await client.get("/api/rooms", headers=bearer(ann))
                assert answer.status_code == 503, answer.text
                assert answer.headers["retry-after"]
            users.write_bytes(good)
            healed = await client.get("/api/rooms", headers=bearer(ann))
            assert healed.status_code == 200, healed.text
        unreadable = Frame("end", None, {"reason": "user-store-unreadable"})
        assert room_seen == [unreadable]
        assert list_seen == [unreadable]
    finally:
        assert server.stop() == 0, server.log()
