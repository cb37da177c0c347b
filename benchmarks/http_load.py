"""The chat system over HTTP: posting under load, and live fan-out.

    python -m benchmarks.http_load            # the run recorded in RESULTS.md ("HTTP")
    python -m benchmarks.http_load --quick    # a smoke run (seconds)

It starts ``kiroku serve`` as a subprocess on a fresh data directory and drives
it with an async HTTP client (aiohttp, whose connection pool stays cheap at a
hundred connections) from this process:

1. Posting: C concurrent clients (50), each a user posting into one of R rooms
   for D seconds, one request at a time; every acknowledged post is durable
   (SQLite WAL, synchronous=FULL). Reports messages/s and p50/p99 latency.
2. Fan-out: L listeners (100) on one room's server-sent event stream; one
   writer posts M messages, one at a time. The delay of a message is from
   just before its POST until a listener has parsed its event; reports
   p50/p99/max over every (listener, message) pair.

The load generator and the server share the machine's cores, so on a small
machine the numbers are a floor for the server, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

from kiroku.api.auth import TokenStore

JsonObj = dict[str, Any]
_READY = re.compile(r"kiroku: listening on http://127\.0\.0\.1:(\d+)")


@dataclass(frozen=True, slots=True)
class Plan:
    clients: int
    rooms: int
    seconds: float
    listeners: int
    messages: int


FULL = Plan(clients=50, rooms=10, seconds=15.0, listeners=100, messages=100)
QUICK = Plan(clients=50, rooms=10, seconds=3.0, listeners=100, messages=10)
ROOM_COUNTS = (1, 10, 50)
"""A room's commands run one at a time (one actor per aggregate), each acknowledged
after its own durable commit, so throughput grows with the number of rooms written to."""


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = data.parent / "server.log"
    cmd = [sys.executable, "-c", "from kiroku.cli import main; main()"]
    args = ["--data", str(data), "serve", "--port", "0", "--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*cmd, *args], stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _READY.search(log.read_text(errors="replace"))
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}"
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"kiroku serve did not start:\n{log.read_text()}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session(base: str, connections: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=connections + 10)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    return aiohttp.ClientSession(base_url=base, connector=connector, timeout=timeout)


async def post(client: aiohttp.ClientSession, path: str, token: str, body: object) -> JsonObj:
    async with client.post(path, json=body, headers=auth(token)) as response:
        answer: JsonObj = await response.json(content_type=None)
        if response.status >= 300:
            raise SystemExit(f"POST {path} failed: {response.status} {answer}")
        return answer


async def make_rooms(
    client: aiohttp.ClientSession, tokens: list[str], names: list[str], rooms: int
) -> list[str]:
    """The first user owns every room; user i is a member of room i mod ``rooms``."""
    made = []
    for r in range(rooms):
        members = [n for i, n in enumerate(names) if i % rooms == r and i > 0]
        answer = await post(
            client, "/api/rooms", tokens[0], {"name": f"room {r}", "members": members}
        )
        made.append(str(answer["room_id"]))
    return made


async def poster(
    client: aiohttp.ClientSession, token: str, room: str, until: float, latencies: list[float]
) -> None:
    n = 0
    while time.perf_counter() < until:
        start = time.perf_counter()
        await post(client, f"/api/rooms/{room}/messages", token, {"body": f"message {n}"})
        latencies.append(time.perf_counter() - start)
        n += 1


async def posting(base: str, tokens: list[str], names: list[str], plan: Plan) -> dict[str, float]:
    async with session(base, plan.clients) as client:
        rooms = await make_rooms(client, tokens, names, plan.rooms)
        latencies: list[float] = []
        start = time.perf_counter()
        until = start + plan.seconds
        await asyncio.gather(
            *(
                poster(client, tokens[i], rooms[i % plan.rooms], until, latencies)
                for i in range(plan.clients)
            )
        )
        elapsed = time.perf_counter() - start
    return {
        "messages": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": pct(latencies, 0.50) * 1000,
        "p99_ms": pct(latencies, 0.99) * 1000,
    }


@dataclass
class FanOut:
    listeners: int
    count: int
    sent: dict[str, float] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    connected: int = 0
    everyone: asyncio.Event = field(default_factory=asyncio.Event)

    async def listen(self, client: aiohttp.ClientSession, path: str, token: str) -> None:
        async with client.get(path, params={"access_token": token}) as stream:
            self.connected += 1
            if self.connected == self.listeners:
                self.everyone.set()
            received = 0
            async for raw in stream.content:
                line = raw.decode().rstrip("\n")
                if not line.startswith("data: "):
                    continue
                body = json.loads(line[6:])["data"].get("body")
                if body in self.sent:
                    self.delays.append(time.perf_counter() - self.sent[body])
                    received += 1
                    if received == self.count:
                        return


async def fan_out(base: str, tokens: list[str], names: list[str], plan: Plan) -> dict[str, float]:
    async with session(base, plan.listeners) as client:
        made = await post(
            client, "/api/rooms", tokens[0], {"name": "fan-out", "members": names[1:]}
        )
        room = made["room_id"]
        async with client.get(
            "/api/rooms", params={"min_position": str(made["position"])}, headers=auth(tokens[0])
        ) as caught_up:
            caught_up.raise_for_status()
        fan = FanOut(plan.listeners, plan.messages)
        path = f"/api/rooms/{room}/stream"
        tasks = [
            asyncio.create_task(fan.listen(client, path, tokens[i % len(tokens)]))
            for i in range(plan.listeners)
        ]
        async with asyncio.timeout(60):
            await fan.everyone.wait()
        for m in range(plan.messages):
            body = f"fan-out {m}"
            fan.sent[body] = time.perf_counter()
            await post(client, f"/api/rooms/{room}/messages", tokens[0], {"body": body})
            await asyncio.sleep(0.05)
        async with asyncio.timeout(120):
            await asyncio.gather(*tasks)
    return {
        "deliveries": len(fan.delays),
        "p50_ms": pct(fan.delays, 0.50) * 1000,
        "p99_ms": pct(fan.delays, 0.99) * 1000,
        "max_ms": max(fan.delays) * 1000,
    }


async def run(plan: Plan) -> None:
    with tempfile.TemporaryDirectory(prefix="kiroku-http-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        store = TokenStore(data)
        names = [f"user{i}" for i in range(max(plan.clients, 10))]
        tokens = [store.add(name, admin=(i == 0)) for i, name in enumerate(names)]
        proc, base = start_server(data)
        try:
            for rooms in ROOM_COUNTS:
                post = await posting(base, tokens, names, replace(plan, rooms=rooms))
                print(
                    f"posting: {plan.clients} clients, {rooms} rooms, {plan.seconds:.0f}s: "
                    f"{post['messages']:.0f} messages, {post['per_second']:.0f} msg/s, "
                    f"p50 {post['p50_ms']:.1f} ms, p99 {post['p99_ms']:.1f} ms"
                )
            fan = await fan_out(base, tokens, names, plan)
            print(
                f"fan-out: {plan.listeners} listeners x {plan.messages} messages: "
                f"{fan['deliveries']:.0f} deliveries, p50 {fan['p50_ms']:.1f} ms, "
                f"p99 {fan['p99_ms']:.1f} ms, max {fan['max_ms']:.1f} ms"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, load average {load}; "
        "one run, client and server on the same machine"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    args = parser.parse_args()
    asyncio.run(run(QUICK if args.quick else FULL))


if __name__ == "__main__":
    main()
