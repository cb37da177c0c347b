"""Users in the shared database: two servers on one PostgreSQL journal take the same
tokens, and a removal reaches both at once, ending the user's open live stream. A node
that cannot reach the users answers 503 and never goes on honouring its old copy."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from kits.processes import Proc, run_kiroku
from pgkit import (
    TcpProxy,
    dsn_fixture,  # noqa: F401 - fixtures
)

from kiroku.api.pg_users import PostgreSQLTokenStore, PostgreSQLUsers
from kiroku.errors import AuthenticationError, UserStoreError
from kiroku.journal.postgres import PostgreSQLJournal

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def url_of(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


@pytest.fixture
def servers(dsn: str, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    url = url_of(dsn)
    migrated = run_kiroku("db", "migrate", "--journal", url)
    assert migrated.returncode == 0, migrated.stderr
    assert "users and their token hashes" in migrated.stdout
    procs = [
        Proc(
            tmp_path,
            f"node{i}",
            "--data",
            str(tmp_path / f"node{i}"),
            "serve",
            "--port",
            "0",
            "--journal",
            url,
        )
        for i in (1, 2)
    ]
    try:
        yield url, [p.url() for p in procs]
    finally:
        for p in procs:
            assert p.stop() == 0, p.text()


def add_user(url: str, name: str) -> str:
    done = run_kiroku("users", "add", name, "--json", "--journal", url)
    assert done.returncode == 0, done.stderr
    token: str = json.loads(done.stdout)["token"]
    return token


async def answer(client: httpx.AsyncClient, base: str, token: str, want: int) -> int:
    """The status ``GET /api/rooms`` answers with ``token``, waiting (bounded) for ``want``:
    a node hears of a change when the commit's notification arrives."""
    async with asyncio.timeout(10):
        while True:
            got = await client.get(f"{base}/api/rooms", headers=bearer(token))
            if got.status_code == want:
                return got.status_code
            await asyncio.sleep(0.05)


async def until(done: Callable[[], bool], seconds: float = 10) -> None:
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if done():
                return
            await asyncio.sleep(0.05)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def frames(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    kind, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            data = line[len("data: ") :]
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


async def test_two_nodes_share_users_and_a_removal_reaches_both(
    servers: tuple[str, list[str]],
) -> None:
    url, (one, two) = servers
    ann, bob = add_user(url, "ann"), add_user(url, "bob")
    async with httpx.AsyncClient(timeout=30) as client:
        for base in (one, two):
            await answer(client, base, ann, 200)
            await answer(client, base, bob, 200)
        made = await client.post(
            f"{one}/api/rooms", json={"name": "shared", "members": ["bob"]}, headers=bearer(ann)
        )
        assert made.status_code == 201, made.text
        room, position = made.json()["room_id"], made.json()["position"]
        caught_up = await client.get(
            f"{two}/api/rooms", params={"min_position": position}, headers=bearer(bob)
        )
        assert [r["room_id"] for r in caught_up.json()["rooms"]] == [room]
        stream = f"{two}/api/rooms/{room}/stream"
        async with client.stream("GET", stream, params={"access_token": bob}) as live:
            assert live.status_code == 200
            seen = frames(live)
            posted = await client.post(
                f"{one}/api/rooms/{room}/messages", json={"body": "hi"}, headers=bearer(ann)
            )
            assert posted.status_code == 201, posted.text
            async with asyncio.timeout(15):
                async for kind, data in seen:
                    if kind == "message" or data.get("data", {}).get("body") == "hi":
                        break
            removed = run_kiroku("users", "remove", "bob", "--journal", url)
            assert removed.returncode == 0, removed.stderr
            async with asyncio.timeout(10):
                ending = [(k, d) async for k, d in seen if k == "end"]
            assert ending == [("end", {"reason": "token-revoked"})]
        for base in (one, two):
            assert await answer(client, base, bob, 401) == 401
            assert (await client.get(f"{base}/api/rooms", headers=bearer(ann))).status_code == 200
    listed = run_kiroku("users", "list", "--removed", "--json", "--journal", url)
    assert [u["name"] for u in json.loads(listed.stdout)] == ["bob"]
    again = run_kiroku("users", "add", "bob", "--journal", url)
    assert again.returncode != 0
    assert "never issued again" in again.stderr


async def test_unreachable_users_are_refused_not_trusted(dsn: str) -> None:
    async with await PostgreSQLJournal.open(dsn):
        pass  # creates the schema, users included
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    proxy = TcpProxy(str(params["host"]), int(str(params["port"])))
    await proxy.start()
    via_proxy = psycopg.conninfo.make_conninfo(dsn, host="127.0.0.1", port=proxy.port)
    token = PostgreSQLUsers(dsn).add("ann")
    store = await PostgreSQLTokenStore.open(via_proxy, recheck=0.2, stale=1.0)
    try:
        assert store.authenticate(token).name == "ann"
        before = store.changes
        await proxy.cut()
        await until(lambda: store.unreadable is not None)
        assert store.changes > before  # a watcher ends the live streams
        with pytest.raises(UserStoreError):
            store.authenticate(token)
        PostgreSQLUsers(dsn).remove("ann")  # while this node cannot hear of it
        await proxy.start()  # the database is back: the removal is read, not missed
        await until(lambda: store.unreadable is None)
        with pytest.raises(AuthenticationError):
            store.authenticate(token)
    finally:
        await store.close()
        await proxy.cut()


async def test_an_unconfirmed_copy_is_refused(dsn: str) -> None:
    """A follower that stops confirming (a hung connection, a stalled loop) is not trusted."""
    async with await PostgreSQLJournal.open(dsn):
        pass
    token = PostgreSQLUsers(dsn).add("ann")
    store = await PostgreSQLTokenStore.open(dsn, recheck=30.0, stale=0.5)
    try:
        await store.close()  # nothing confirms the copy any more
        assert store.authenticate(token).name == "ann"
        await until(lambda: store.unreadable is not None)
        with pytest.raises(UserStoreError, match="not been confirmed"):
            store.authenticate(token)
    finally:
        await store.close()


def test_users_takes_the_journal_from_the_settings_file(tmp_path: Path) -> None:
    """``journal`` in the TOML ``[users]`` table sends every subcommand to that database:
    here an unreachable one, named in the error, and no users file is written instead."""
    config = tmp_path / "kiroku.toml"
    config.write_text('[users]\njournal = "postgresql://nobody@127.0.0.1:9/none"\n')
    data = tmp_path / "data"
    for args in (("add", "ann"), ("list",), ("remove", "ann")):
        done = run_kiroku("--config", str(config), "--data", str(data), "users", *args)
        assert done.returncode == 1, done
        assert "127.0.0.1:9" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (data / "users.json").exists()
