"""The whole system split as in production, every process real: two write nodes on a
PostgreSQL journal, an active relay and a standby, projectors over NATS JetStream,
two read nodes serving the read models and live streams. The chat runs through it over
HTTP: rooms, members, posts on both write nodes, a live stream on a read node. Mid-load
the active relay, the projector and a write node are SIGKILLed (the projector restarted,
as a supervisor would; the poster of the killed write node carries on on the other).
Afterwards every acknowledged post is read back and was streamed live, ``kiroku status``
names the killed processes dead and the rest caught up, and every read model equals one
rebuilt from the journal.

It runs on both engines of read stores. On PostgreSQL nothing is shared but the
database: each node has its own data directory, and the read nodes learn of the
projector's commits by NOTIFY. On SQLite the projector and the read nodes share the
read-store directory. On PostgreSQL two projectors share the projections' bus
partitions (lanes, ``--partitions``) and the one killed is restarted on its half; on
SQLite one projector runs at a time, its successor started after the kill."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
import psycopg
import pytest
from kits.processes import (
    Proc,
    procs_fixture,  # noqa: F401 - a fixture
    run_kiroku,
)
from kits.status import FAST_BEAT, status_until

from kiroku import ProjectionHost
from kiroku.apps.chat import app as chat
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.projections.catalog import StoreCatalog
from kiroku.projections.generations import ReadStores
from kiroku.projections.postgres import PostgresReadStores
from kiroku.schema.codec import Codec
from kiroku.testing.postgres import fresh_database

sys.path.insert(0, str(Path(__file__).parents[1] / "nats"))
import nats_kit

pytestmark = [pytest.mark.postgres, pytest.mark.nats, pytest.mark.slow]
nats_server = nats_kit.nats_server


@pytest.fixture
def nats_url(nats_server: nats_kit.NatsServer) -> str:
    """A server of this test's own: the bus keeps what an earlier test published, and a
    consumer new to it (another partition split) would start from the beginning."""
    return nats_server.url


POSTS = 120
"""Posts per write node's poster; the kills come after a quarter of them."""


@pytest.fixture(params=["postgresql", "sqlite"])
def read_store(request: pytest.FixtureRequest, journal_url: str, tmp_path: Path) -> str:
    """The read stores the projector writes and the read nodes serve: on PostgreSQL
    beside the journal in its database (schemas of their own), on SQLite a directory."""
    return journal_url if request.param == "postgresql" else f"sqlite:///{tmp_path / 'read'}"


@pytest.fixture
async def journal_url() -> AsyncIterator[str]:
    async with fresh_database() as dsn:
        p = psycopg.conninfo.conninfo_to_dict(dsn)
        yield f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


class Topology:
    def __init__(self, tmp: Path, journal: str, bus: str, store: str, procs: list[Proc]) -> None:
        self.tmp, self.procs, self.store = tmp, procs, store
        self.common = ("--journal", journal, "--bus", bus)

    def start(self, name: str, role: str, *extra: str) -> Proc:
        proc = Proc(self.tmp, name, "--data", str(self.tmp / name), "serve", "--role", role,
                    *self.common, *extra, env=FAST_BEAT | {"KIROKU_NODE_ID": name})  # fmt: skip
        self.procs.append(proc)
        return proc

    def projector(self, name: str, *extra: str) -> Proc:
        return self.start(name, "projector", "--read-store", self.store, *extra)


def token_of(journal: str, name: str) -> str:
    done = run_kiroku("users", "add", name, "--json", "--journal", journal)
    assert done.returncode == 0, done.stderr
    token: str = json.loads(done.stdout)["token"]
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def poster(
    bases: list[str], token: str, room: str, tag: str, acked: list[str], midway: asyncio.Event
) -> None:
    """Post ``POSTS`` messages; a write node that stops answering is left for the next
    one (a post whose answer was lost may be in the journal or not: only acks count)."""
    async with httpx.AsyncClient(timeout=30) as client:
        for i in range(POSTS):
            body = f"{tag}{i}"
            while True:
                try:
                    r = await client.post(f"{bases[0]}/api/rooms/{room}/messages",
                                          json={"body": body}, headers=auth(token))  # fmt: skip
                except httpx.TransportError:
                    bases.pop(0)
                    continue
                if r.status_code == 201:
                    acked.append(body)
                    break
                assert r.status_code in (409, 503), r.text  # a race with the other node: retry
                await asyncio.sleep(0.05)
            if len(acked) >= POSTS // 4:
                midway.set()


async def listen(base: str, token: str, room: str, heard: list[str]) -> None:
    async with (
        httpx.AsyncClient(timeout=None) as client,
        client.stream("GET", f"{base}/api/rooms/{room}/stream",
                      params={"access_token": token}) as live,
    ):  # fmt: skip
        assert live.status_code == 200
        async for line in live.aiter_lines():
            if line.startswith("data: "):
                body = json.loads(line[len("data: ") :]).get("data", {}).get("body")
                if body is not None:
                    heard.append(body)


async def test_the_chat_through_every_role_survives_kills_mid_load(
    journal_url: str, nats_url: str, read_store: str, tmp_path: Path, procs: list[Proc]
) -> None:
    migrated = run_kiroku("db", "migrate", "--journal", journal_url)
    assert migrated.returncode == 0, migrated.stderr
    top = Topology(tmp_path, journal_url, nats_url, read_store, procs)
    writers = [top.start(f"write{i}", "write", "--port", "0") for i in (1, 2)]
    relays = [top.start(f"relay{i}", "relay") for i in (1, 2)]
    # On PostgreSQL two projectors share every projection, half the bus's partitions each
    # (lanes); a SQLite read store belongs to one process, so there one projector runs.
    lanes = read_store.startswith("postgresql")
    first_half = ("--partitions", "0-7") if lanes else ()
    projector = top.projector("projector1", *first_half)
    projector.wait_for("roles projector")
    others = [top.projector("projectorB", "--partitions", "8-15")] if lanes else []
    for other in others:
        other.wait_for("roles projector")
    # one at a time, after the projector has created the stores: a read node opening SQLite
    # stores while they are being created may meet "database is locked" and exit
    readers, read_urls = [], []
    for i in (1, 2):
        readers.append(top.start(f"read{i}", "read", "--port", "0", "--read-store", top.store))
        read_urls.append(readers[-1].url())
    write_urls = [w.url() for w in writers]
    ann, bob = token_of(journal_url, "ann"), token_of(journal_url, "bob")

    async with httpx.AsyncClient(timeout=30) as client:
        rooms = []
        for base, name in zip(write_urls, ("east", "west"), strict=True):
            made = await client.post(f"{base}/api/rooms", headers=auth(ann),
                                     json={"name": name, "members": ["bob"]})  # fmt: skip
            assert made.status_code == 201, made.text
            rooms.append(made.json()["room_id"])
        position = made.json()["position"]
        for base in read_urls:
            seen = await client.get(f"{base}/api/rooms", headers=auth(bob),
                                    params={"min_position": position})  # fmt: skip
            assert seen.status_code == 200, seen.text
            assert sorted(r["room_id"] for r in seen.json()["rooms"]) == sorted(rooms)

    heard: list[str] = []
    listener = asyncio.create_task(listen(read_urls[0], bob, rooms[0], heard))
    acked: dict[str, list[str]] = {rooms[0]: [], rooms[1]: []}
    midway = asyncio.Event()
    load = [
        asyncio.create_task(poster([write_urls[0], write_urls[1]], ann, rooms[0], "e",
                                   acked[rooms[0]], midway)),
        asyncio.create_task(poster([write_urls[1]], ann, rooms[1], "w", acked[rooms[1]],
                                   asyncio.Event())),
    ]  # fmt: skip
    await midway.wait()
    active = next(r for r in relays if "holds the lease" in r.text())
    for victim in (active, projector, writers[0]):
        victim.stop(signal.SIGKILL)
    projector = top.projector("projector2", *first_half)
    await asyncio.gather(*load)

    want = {room: sorted(bodies) for room, bodies in acked.items()}
    assert all(len(bodies) == POSTS for bodies in want.values())
    async with httpx.AsyncClient(timeout=60) as client:
        for room, bodies in want.items():
            for base in read_urls:
                found = await until_read(client, base, bob, room, bodies)
                assert set(bodies) <= set(found), (room, base)
    async with asyncio.timeout(60):
        for _ in itertools.count():  # the live stream goes on across the projector's restart
            if set(want[rooms[0]]) <= set(heard):
                break
            await asyncio.sleep(0.1)
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener

    where = ("--journal", journal_url, "--bus", nats_url, "--data", str(tmp_path / "status"))
    killed = {active.name, "projector1", "write1"}
    code, report = status_until(where, lambda c, r: caught_up(r, killed))
    assert code == 1  # the killed are dead until forgotten
    state = {n["node"]: n["state"] for n in report["nodes"]}
    assert state == dict.fromkeys(killed, "dead") | dict.fromkeys(
        ("write2", standby_of(relays, active).name, "projector2", "read1", "read2",
         *(o.name for o in others)), "alive"
    )  # fmt: skip
    assert "holds the lease" in standby_of(relays, active).text()
    async with httpx.AsyncClient(timeout=30) as client:
        for base, role in ((write_urls[1], "write"), *((u, "read") for u in read_urls)):
            ready = await client.get(f"{base}/readyz")
            assert (ready.status_code, ready.json()["roles"]) == (200, {role: "ok"}), ready.text

    for proc in procs:
        proc.stop()
    if lanes:
        assert lane_keys(journal_url) == {"0-7", "8-15"}  # both lanes wrote every projection
    await compare_with_rebuild(journal_url, read_store, tmp_path, want)


def lane_keys(dsn: str) -> set[str]:
    """The lanes every serving read store of the chat has rows for."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        schemas = [str(r[0]) for r in conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'kiroku_lanes'"
        )]  # fmt: skip
        per_store = [
            {str(r[0]) for r in conn.execute(f'SELECT lane FROM "{schema}".kiroku_lanes')}
            for schema in schemas
        ]
    assert len(per_store) >= len(chat.projections)
    return set.intersection(*per_store)


async def until_read(
    client: httpx.AsyncClient, base: str, token: str, room: str, bodies: list[str]
) -> list[str]:
    async with asyncio.timeout(90):
        while True:
            seen = await client.get(f"{base}/api/rooms/{room}/messages", headers=auth(token),
                                    params={"limit": 500})  # fmt: skip
            assert seen.status_code == 200, seen.text
            found = [m["body"] for m in seen.json()["messages"]]
            if set(bodies) <= set(found):
                return found
            await asyncio.sleep(0.2)


def standby_of(relays: list[Proc], active: Proc) -> Proc:
    return next(r for r in relays if r is not active)


def caught_up(report: dict[str, Any], dead: set[str]) -> bool:
    """Exactly ``dead`` reported dead; every other process at the head (a standby relay
    holds no position) and no bus consumer with anything unacknowledged."""
    alive = [n for n in report["nodes"] if n["state"] != "dead"]
    gone = {n["node"] for n in report["nodes"] if n["state"] == "dead"}
    consumers = (report.get("bus") or {}).get("consumers", [])
    return (
        gone == dead
        and all(n["lag"] in (0, None) for n in alive)
        and all(c["unacked"] == 0 for c in consumers)
    )


def catalogs(store: str, tmp_path: Path) -> tuple[StoreCatalog, StoreCatalog]:
    """The live read stores and an empty set on the same engine for the rebuild."""
    if store.startswith("postgresql://"):
        return PostgresReadStores(store), PostgresReadStores(store, prefix="kiroku_rebuilt")
    return ReadStores(store.removeprefix("sqlite:///")), ReadStores(tmp_path / "rebuilt")


async def compare_with_rebuild(
    journal_url: str, store: str, tmp_path: Path, acked: dict[str, list[str]]
) -> None:
    """Every table of every read model (documents, the search index, a projection's own
    tables; not the bookkeeping), row by row, against a rebuild from the journal; and
    every acknowledged post once in the message history, so that two empty or equally
    wrong models cannot pass."""
    live_stores, fresh_stores = catalogs(store, tmp_path)
    async with await PostgreSQLJournal.open(journal_url) as journal:
        codec, projections = Codec(chat.registry), list(chat.projections)
        live = ProjectionHost(journal, projections, tmp_path, codec=codec, catalog=live_stores)
        fresh = ProjectionHost(journal, projections, tmp_path, codec=codec, catalog=fresh_stores)
        try:
            await fresh.catch_up()
            for p in projections:
                got = await live.reader(p.name).dump()
                assert got == await fresh.reader(p.name).dump(), p.name
                assert any(got.values()), p.name
            events = live.reader("chat.history").collection("events")
            for room, bodies in acked.items():
                docs = await events.query({"room_id": room, "type": "chat.MessagePosted"})
                posted = Counter(cast(dict[str, str], d["data"])["body"] for d in docs)
                assert all(posted[body] == 1 for body in bodies), room
        finally:
            await live.close()
            await fresh.close()
