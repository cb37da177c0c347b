"""``kiroku status`` over a PostgreSQL journal: every node beats into the database's
``heartbeats`` table; status reads them with the journal head, on any machine."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import psycopg
import pytest
from kits.processes import Proc
from kits.status import FAST_BEAT, status_until
from pgkit import dsn_fixture  # noqa: F401 - fixtures

from kiroku.api.pg_users import PostgreSQLUsers
from kiroku.journal.postgres import PostgreSQLJournal

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def url_of(dsn: str) -> str:
    p = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{p['dbname']}"


async def test_status_reads_beats_and_the_head_from_the_database(dsn: str, tmp_path: Path) -> None:
    async with await PostgreSQLJournal.open(dsn):
        pass
    url = url_of(dsn)
    token = PostgreSQLUsers(url).add("ann")
    nodes = [
        Proc(tmp_path, f"node{i}", "--data", str(tmp_path / f"node{i}"), "serve", "--port", "0",
             "--journal", url, "--projections", "inline",
             env=FAST_BEAT | {"KIROKU_NODE_ID": f"node{i}"})
        for i in (1, 2)
    ]  # fmt: skip
    try:
        base = nodes[0].url()
        nodes[1].url()
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            made = await client.post(
                "/api/rooms", json={"name": "r"}, headers={"Authorization": f"Bearer {token}"}
            )
            assert made.status_code == 201, made.text
        head = made.json()["position"]
        where = ("--journal", url, "--data", str(tmp_path / "elsewhere"))
        code, report = status_until(
            where, lambda c, r: len(r["nodes"]) == 2 and all(n["lag"] == 0 for n in r["nodes"])
        )
        assert code == 0, report
        assert report["head"] == head
        assert {n["node"]: n["state"] for n in report["nodes"]} == {"node1": "alive",
                                                                     "node2": "alive"}  # fmt: skip
        assert all(n["position"] == head for n in report["nodes"])

        nodes[1].stop(signal.SIGKILL)
        code, report = status_until(where, lambda c, r: c != 0)
        assert {n["node"]: n["state"] for n in report["nodes"]} == {"node1": "alive",
                                                                     "node2": "dead"}  # fmt: skip
        [problem] = report["problems"]
        assert problem.startswith("node2 (projector,read,write) is dead: last beat")
    finally:
        for n in nodes:
            n.stop(signal.SIGKILL)
