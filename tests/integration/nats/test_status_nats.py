"""``kiroku status`` with a NATS bus: processes beat into a KV bucket beside the stream,
and status reports the stream's last sequence and each consumer's unacked messages."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import nats_kit
import pytest
from kits.processes import (
    Proc,
    procs_fixture,  # noqa: F401 - a fixture
    run_kiroku,
)
from kits.status import FAST_BEAT, states, status_until

pytestmark = [pytest.mark.nats, pytest.mark.slow]
nats_server = nats_kit.nats_server


async def test_status_over_nats_reports_the_stream_consumers_and_a_dead_relay(
    nats_server: nats_kit.NatsServer, tmp_path: Path, procs: list[Proc]
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    bus = ("--bus", nats_server.url)
    common = ("--data", str(data), "serve")
    web = Proc(tmp_path, "web", *common, "--port", "0", "--role", "write,read", *bus,
               env=FAST_BEAT)  # fmt: skip
    relay = Proc(tmp_path, "relay", *common, "--role", "relay", *bus, env=FAST_BEAT)
    projector = Proc(tmp_path, "projector", *common, "--role", "projector", *bus, env=FAST_BEAT)
    procs += [web, relay, projector]
    base = web.url()
    relay.wait_for("holds the lease")
    projector.wait_for("roles projector")
    added = run_kiroku("--data", str(data), "users", "add", "ann", "--json")
    token = added.stdout.split('"token": "')[1].split('"')[0]
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for i in range(3):
            made = await client.post("/api/rooms", json={"name": f"r{i}"},
                                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            assert made.status_code == 201, made.text
    head = made.json()["position"]
    where = ("--data", str(data), *bus)
    code, report = status_until(
        where,
        lambda c, r: c == 0 and len(r["nodes"]) == 3 and r["bus"]["last_seq"] >= head
        and all(n["lag"] in (0, None) for n in r["nodes"]),
    )  # fmt: skip
    assert states(report) == {"read,write": "alive", "relay": "alive", "projector": "alive"}
    relay_row = next(n for n in report["nodes"] if n["roles"] == ["relay"])
    assert relay_row["relay_active"] is True
    assert relay_row["positions"]["relay"] == head
    consumers = report["bus"]["consumers"]
    assert consumers, report
    assert all(c["unacked"] == 0 and c["ack_floor"] == report["bus"]["last_seq"]
               for c in consumers)  # fmt: skip

    relay.stop(signal.SIGKILL)
    code, report = status_until(where, lambda c, r: c != 0)
    assert (code, states(report)["relay"]) == (1, "dead")
