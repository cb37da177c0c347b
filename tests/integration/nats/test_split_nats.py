"""The system split over NATS in separate processes: a write+read node, an active relay
and a standby, a projector. Mid-load the active relay and the projector are SIGKILLed
(the projector restarted, as a supervisor would). Afterwards no acknowledged post is
missing and every read model equals one rebuilt from the journal."""

from __future__ import annotations

import asyncio
import re
import signal
import sqlite3
from pathlib import Path

import httpx
import nats_kit
import pytest
from kits.processes import (
    Proc,
    procs_fixture,  # noqa: F401 - a fixture
    run_kiroku,
)

from kiroku import ProjectionHost
from kiroku.apps.chat import app as chat
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.schema.codec import Codec

pytestmark = [pytest.mark.nats, pytest.mark.slow]
nats_url = nats_kit.nats_url


def user_rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every read-model table (not the runner's bookkeeping, not FTS internals)."""
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        keep = [n for n in names if not n.startswith(("kiroku_", "sqlite_"))
                and not re.search(r"_(data|idx|docsize|config|content)$", n)]  # fmt: skip
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in keep}
    finally:
        conn.close()


def add_user(data: Path, name: str) -> str:
    done = run_kiroku("--data", str(data), "users", "add", name, "--admin", "--json")
    assert done.returncode == 0, done.stderr
    return re.search(r'"token":\s*"([^"]+)"', done.stdout).group(1)  # type: ignore[union-attr]


def serve(data: Path, name: str, *args: str) -> Proc:
    """``kiroku serve ARGS`` on ``data``, its log beside ``data``."""
    return Proc(data.parent, name, "--data", str(data), "serve", *args)


async def post_all(
    base: str, token: str, room: str, count: int, acked: list[int], midway: asyncio.Event
) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(count):
            r = await client.post(
                f"/api/rooms/{room}/messages", json={"body": f"m{i}"},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert r.status_code == 201, r.text
            acked.append(r.json()["position"])
            if len(acked) == count // 4:
                midway.set()


async def every_projection_at(base: str, token: str, position: int) -> None:
    """Wait, bounded, until every projection has committed ``position``: a read with
    ``min_position`` waits only for the read models it reads."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client, asyncio.timeout(60):
        while True:
            answer = await client.get(
                "/api/admin/projections", headers={"Authorization": f"Bearer {token}"}
            )
            assert answer.status_code == 200, answer.text
            if all(p["position"] >= position for p in answer.json()["projections"]):
                return
            await asyncio.sleep(0.1)


async def test_kill_the_relay_and_a_projector_mid_load(
    nats_url: str, tmp_path: Path, procs: list[Proc]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bus = ("--bus", nats_url)
    web = serve(data, "web", "--port", "0", "--role", "write,read")
    procs.append(web)
    base = web.url()
    relays = [serve(data, f"relay{i}", "--role", "relay", *bus) for i in range(2)]
    procs.extend(relays)
    projector = serve(data, "projector", "--role", "projector", *bus)
    procs.append(projector)
    projector.wait_for("roles projector")
    token = await asyncio.to_thread(add_user, data, "ann")
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        made = await client.post("/api/rooms", json={"name": "load"},
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert made.status_code == 201, made.text
    room = made.json()["room_id"]
    acked: list[int] = []
    midway = asyncio.Event()
    load = asyncio.create_task(post_all(base, token, room, 300, acked, midway))
    await midway.wait()
    active = next(r for r in relays if "holds the lease" in r.text())
    active.stop(signal.SIGKILL)
    projector.stop(signal.SIGKILL)
    projector = serve(data, "projector", "--role", "projector", *bus)
    procs.append(projector)
    await load
    # the standby takes the lease after the killed relay's expires (seconds), and the new
    # projector resumes from its durable consumer: a read waits (bounded) for both
    async with httpx.AsyncClient(base_url=base, timeout=60) as client, asyncio.timeout(90):
        while True:
            seen = await client.get(
                f"/api/rooms/{room}/messages", params={"min_position": max(acked), "limit": 500},
                headers={"Authorization": f"Bearer {token}"},
            )  # fmt: skip
            if seen.status_code != 503 or "wait-timeout" not in seen.text:
                break
    assert seen.status_code == 200, seen.text
    bodies = sorted(m["body"] for m in seen.json()["messages"])
    assert bodies == sorted(f"m{i}" for i in range(300))
    await every_projection_at(base, token, max(acked))  # not only the one that was read
    standby = next(r for r in relays if r is not active)
    assert "holds the lease" in standby.text()
    for proc in procs:
        proc.stop()
    journal = await SQLiteJournal.open(data / "journal.db")
    try:
        host = ProjectionHost(journal, list(chat.projections), tmp_path / "rebuilt",
                              codec=Codec(chat.registry))  # fmt: skip
        await host.catch_up()
        await host.close()
    finally:
        await journal.close()
    for p in chat.projections:
        live, fresh = (
            data / "read" / f"{p.name}.g1.db",
            tmp_path / "rebuilt" / "read" / f"{p.name}.g1.db",
        )
        assert user_rows(live) == user_rows(fresh), p.name
