"""Read stores on PostgreSQL let a read node run with no directory shared with the
projector: a write node, a projector and a read node, three processes with three
data directories, one database. The read node answers ``min_position`` reads,
search and live streams, woken by NOTIFY from the projector's commits."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import psycopg
import pytest
from pgkit import dsn_fixture
from psycopg.conninfo import conninfo_to_dict

from kiroku.roles.pg_commits import CHANNEL

sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from chat_server import ChatServer
from kits.processes import start_projector
from sse_reader import data_of

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
__all__ = ["dsn_fixture"]


def _url(dsn: str) -> str:
    parts = conninfo_to_dict(dsn)
    host, port = parts.get("host", "127.0.0.1"), parts.get("port", 5432)
    return f"postgresql://{parts.get('user', 'postgres')}@{host}:{port}/{parts['dbname']}"


@pytest.fixture
async def nodes(
    dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[ChatServer, ChatServer]]:
    monkeypatch.setenv("KIROKU_READ_COMMIT_POLL", "3600")  # only a NOTIFY can wake the reader
    url = _url(dsn)
    stores = ("--journal", url, "--read-store", url)
    write = ChatServer.start(tmp_path / "write", extra=("--role", "write", *stores))
    projector, log = start_projector(tmp_path / "projector", *stores)
    read = ChatServer.start(tmp_path / "read", extra=("--role", "read", *stores))
    try:
        yield write, read
    finally:
        projector.terminate()
        assert projector.wait(30) == 0, log.read_text()
        assert read.stop() == 0, read.log()
        assert write.stop() == 0, write.log()


async def test_a_read_node_elsewhere_answers_reads_search_and_live_streams(
    nodes: tuple[ChatServer, ChatServer], dsn: str
) -> None:
    write, read = nodes
    url = _url(dsn)  # users live in the shared database: one token works on every node
    ann_w = ann_r = {"Authorization": f"Bearer {write.add_user('ann', journal=url)}"}
    bob_r = write.add_user("bob", journal=url)
    async with (
        httpx.AsyncClient(base_url=write.base_url, timeout=30) as w,
        httpx.AsyncClient(base_url=read.base_url, timeout=30) as r,
    ):
        made = await w.post("/api/rooms", json={"name": "far", "members": ["bob"]}, headers=ann_w)
        assert made.status_code == 201, made.text
        room, position = made.json()["room_id"], made.json()["position"]
        rooms = await r.get("/api/rooms", params={"min_position": position}, headers=ann_r)
        assert rooms.status_code == 200, rooms.text
        assert [x["room_id"] for x in rooms.json()["rooms"]] == [room]
        path = f"/api/rooms/{room}/stream"
        async with r.stream("GET", path, params={"access_token": bob_r}) as stream:
            for i in range(3):
                posted = await w.post(
                    f"/api/rooms/{room}/messages", json={"body": f"hello far {i}"}, headers=ann_w
                )
                assert posted.status_code == 201, posted.text
            events = await data_of(stream, 3)
        assert [e["data"]["body"] for e in events] == ["hello far 0", "hello far 1", "hello far 2"]
        last = posted.json()["position"]
        found = await r.get(
            "/api/search", params={"q": "far 1", "min_position": last}, headers=ann_r
        )
        assert found.status_code == 200, found.text
        assert [x["body"] for x in found.json()["results"]] == ["hello far 1"]
        ready = await r.get("/readyz")
        assert ready.status_code == 200, ready.text
        await _kill_listeners(dsn)  # the read node listens again and catches up at once
        posted = await w.post(
            f"/api/rooms/{room}/messages", json={"body": "after the cut"}, headers=ann_w
        )
        seen = await r.get(
            f"/api/rooms/{room}/messages",
            params={"min_position": posted.json()["position"]},
            headers=ann_r,
        )
        assert seen.status_code == 200, seen.text
        assert seen.json()["messages"][0]["body"] == "after the cut"


async def _kill_listeners(dsn: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as admin:
        cur = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE query = %s AND datname = current_database()",
            (f"LISTEN {CHANNEL}",),
        )
        assert [row[0] for row in await cur.fetchall()] == [True]
