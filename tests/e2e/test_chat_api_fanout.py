"""The shared fan-out against a real server: many listeners on one room under
concurrent writers all see every event once and in order (joiners resuming with
Last-Event-ID included), a member removed mid-flow gets the end and nothing after,
and a listener too slow to keep up is dropped with ``event: resume`` and catches
up by reconnecting with Last-Event-ID."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from chat_server import ChatServer, bearer
from sse_reader import Frame, SseReader

LISTENERS = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    # one user holds more streams here than the default per-user cap allows
    extra = ("--max-streams-per-user", str(4 * LISTENERS))
    running = ChatServer.start(tmp_path_factory.mktemp("fanout") / "data", extra=extra)
    yield running
    assert running.stop() == 0, running.log()


@pytest.fixture
async def client(server: ChatServer) -> AsyncIterator[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=LISTENERS + 10)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as c:
        yield c


async def make_room(client: httpx.AsyncClient, owner: str, members: list[str]) -> str:
    made = await client.post(
        "/api/rooms", json={"name": "fan", "members": members}, headers=bearer(owner)
    )
    assert made.status_code == 201, made.text
    await client.get("/api/rooms", params={"min_position": made.json()["position"]},
                     headers=bearer(owner))  # fmt: skip
    room_id: str = made.json()["room_id"]
    return room_id


async def writer(client: httpx.AsyncClient, token: str, room: str, tag: str, n: int) -> None:
    for i in range(n):
        posted = await client.post(
            f"/api/rooms/{room}/messages", json={"body": f"{tag}{i}"}, headers=bearer(token)
        )
        assert posted.status_code == 201, posted.text


async def collect(
    client: httpx.AsyncClient, room: str, token: str, count: int, headers: dict[str, str]
) -> list[Frame]:
    path = f"/api/rooms/{room}/stream"
    async with client.stream("GET", path, headers={**bearer(token), **headers}) as s:
        reader, seen = SseReader(s), list[Frame]()
        while len(seen) < count:
            frame = await reader.next(30)
            assert frame is not None, seen
            seen.append(frame)
        return seen


async def test_every_listener_sees_every_event_once_in_order(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, bob = server.add_user("ann1"), server.add_user("bob1")
    room = await make_room(client, ann, ["bob1"])
    per_writer, writers = 15, 3
    total = per_writer * writers
    listening = [
        asyncio.create_task(collect(client, room, bob, total, {"Last-Event-ID": "1"}))
        for _ in range(LISTENERS)
    ]
    await asyncio.sleep(0.5)  # most are open; the rest join while posts flow
    posting = [writer(client, tok, room, tag, per_writer) for tok, tag in
               ((ann, "a"), (bob, "b"), (ann, "c"))]  # fmt: skip
    await asyncio.gather(*posting)
    late = await collect(client, room, bob, total, {"Last-Event-ID": "1"})  # all by replay
    seen = [*await asyncio.gather(*listening), late]
    history = await client.get(f"/api/rooms/{room}/history", params={"after": 1, "limit": 1000},
                               headers=bearer(ann))  # fmt: skip
    expected = [str(e["version"]) for e in history.json()["events"]]
    assert len(expected) == total
    for frames in seen:
        assert [f.id for f in frames] == expected


async def test_a_member_removed_under_load_gets_nothing_after_the_removal(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    ann, bob, cy = (server.add_user(n) for n in ("ann2", "bob2", "cy2"))
    room = await make_room(client, ann, ["bob2", "cy2"])
    path = f"/api/rooms/{room}/stream"

    async def bobs_stream() -> list[Frame]:
        async with client.stream("GET", path, headers=bearer(bob)) as s:
            return await SseReader(s).rest(30)

    bobs = [asyncio.create_task(bobs_stream()) for _ in range(3)]
    others = [asyncio.create_task(collect(client, room, cy, 41, {})) for _ in range(LISTENERS)]
    await asyncio.sleep(0.5)
    posting = asyncio.create_task(writer(client, ann, room, "m", 40))
    await asyncio.sleep(0.2)
    gone = await client.delete(f"/api/rooms/{room}/members/bob2", headers=bearer(ann))
    assert gone.status_code < 300, gone.text
    removed_at = gone.json()["version"]
    await posting
    for frames in await asyncio.gather(*bobs):
        assert frames[-1] == Frame("end", None, {"reason": "member-removed"})
        assert frames[-2].event == "chat.MemberRemoved"
        assert int(str(frames[-2].id)) == removed_at
        assert all(int(str(f.id)) <= removed_at for f in frames[:-1])
    for frames in await asyncio.gather(*others):
        assert len(frames) == 41  # members go on receiving all of it


def _dechunk(raw: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 response (the part received so far)."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16) if size_line else 0
        if size == 0:
            break
        body, rest = body + rest[:size], rest[size + 2 :]
    return body


async def test_a_slow_listener_is_dropped_and_resumes_from_last_event_id(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIROKU_SSE_MAX_PENDING", "4096")
    server = ChatServer.start(tmp_path_factory.mktemp("slow") / "data")
    try:
        ann = server.add_user("ann")
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            room = await make_room(client, ann, [])
            slow = socket.socket()
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a client that lags
            slow.connect(("127.0.0.1", server.port))
            slow.sendall(
                f"GET /api/rooms/{room}/stream HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {ann}\r\n\r\n".encode()
            )
            await asyncio.sleep(0.5)
            await asyncio.gather(*(flood(client, ann, room, _flood_bytes() // 8) for _ in range(8)))
            head = (await client.get(f"/api/rooms/{room}", headers=bearer(ann))).json()["version"]
            raw = await asyncio.to_thread(_read_all, slow)
            text = _dechunk(raw).decode()
            assert text.rstrip().endswith('event: resume\ndata: {"reason":"slow-consumer"}')
            ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
            assert ids == list(range(2, 2 + len(ids)))  # in order, nothing skipped before the drop
            assert ids[-1] < head
            rest = await collect(client, room, ann, head - ids[-1], {"Last-Event-ID": str(ids[-1])})
            assert [int(str(f.id)) for f in rest] == list(range(ids[-1] + 1, head + 1))
            metrics = (await client.get("/metrics")).text
            assert 'kiroku_sse_slow_consumer_drops{stream="room"} 1' in metrics
    finally:
        assert server.stop() == 0, server.log()


def _flood_bytes() -> int:
    """More than the kernel can buffer between server and client: the send buffer's
    ceiling plus a margin (the client's receive buffer is pinned small)."""
    ceiling = int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])
    return ceiling + (2 << 20)


async def flood(client: httpx.AsyncClient, token: str, room: str, size: int) -> None:
    body = "x" * 9000
    for _ in range(size // len(body) + 1):
        posted = await client.post(
            f"/api/rooms/{room}/messages", json={"body": body}, headers=bearer(token)
        )
        assert posted.status_code == 201


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    out = b""
    with sock:
        while chunk := sock.recv(65536):
            out += chunk
            if out.endswith(b"0\r\n\r\n"):
                break
    return out


async def test_a_client_that_hangs_up_leaves_the_fanout(
    client: httpx.AsyncClient, server: ChatServer
) -> None:
    """A gone client is noticed at once, not at its next write: its listener is removed."""
    ann = server.add_user("ann9")
    room = await make_room(client, ann, [])
    before = await _open_streams(client)
    socks = []
    for _ in range(3):
        sock = socket.create_connection(("127.0.0.1", server.port))
        request = f"GET /api/rooms/{room}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ann}"
        sock.sendall((request + "\r\n\r\n").encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        socks.append(sock)
    assert await _eventually(client, before + 3)
    for sock in socks:
        sock.close()
    assert await _eventually(client, before)


async def _open_streams(client: httpx.AsyncClient) -> int:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("kiroku_sse_listeners "):
            return int(float(line.split()[1]))
    raise AssertionError("no kiroku_sse_listeners in /metrics")


async def _eventually(client: httpx.AsyncClient, count: int) -> bool:
    for _ in range(100):
        if await _open_streams(client) == count:
            return True
        await asyncio.sleep(0.05)
    return False
