"""Live push to a big room: what a post costs as the number of people watching grows.

    python -m benchmarks.fanout           # 0, 100, 1,000 and 5,000 listeners on one room
    python -m benchmarks.fanout --quick   # a smoke run (seconds)

It starts ``kiroku serve`` as a subprocess on a fresh data directory with a few
hundred rooms, each watched by one listener (the background), and one hot room.
For each step it opens L listeners on the hot room's stream (each a different
member, with an async aiohttp client in this process), then posts into the hot
room at a fixed rate and reports:

- the server's CPU per post (user + system time of the server process, read
  from ``/proc``, over the posting window, divided by the posts), and the
  per-listener share: the slope against the step without hot listeners;
- the delivery latency from just before a post's request to the moment the
  *last* listener parsed it (p50 and p99 over the posts);
- memory per idle listener: the server's resident set after the L listeners
  connected, minus before, divided by L;
- below the table, this process's own CPU per post (the listeners' parsing and
  the posts): when it is near the server's, the machine, not the server, bounds
  the latencies.

``--listeners 1000`` runs only that step (after the baseline without listeners).
The server's connection and stream caps are lifted: they are not measured here.

Listeners are bare asyncio protocols (a callback and a regular-expression scan
per received chunk); aiohttp, used for the posts, costs too much per chunk at
thousands of streams and made the client the bottleneck. Client and server
still share the machine's cores, so latencies are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.machine import machine
from kiroku.api.auth import USERS_FILE, hash_token

_READY = re.compile(r"kiroku: listening on http://127\.0\.0\.1:(\d+)")
_ID = re.compile(rb"^id: (\d+)$", re.MULTILINE)
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
_UNCAPPED = ["--max-connections", "100000", "--max-streams", "100000"]
_UNCAPPED += ["--max-streams-per-user", "100"]
"""The server's connection and stream caps are not what is measured here."""


@dataclass(frozen=True, slots=True)
class Step:
    listeners: int
    rate: float
    """Posts per second into the hot room."""
    posts: int


@dataclass(frozen=True, slots=True)
class Plan:
    background_rooms: int
    steps: tuple[Step, ...]


FULL = Plan(
    background_rooms=300,
    steps=(
        Step(0, 50, 250),
        Step(100, 50, 250),
        Step(1000, 50, 250),
        Step(5000, 10, 100),
    ),
)
"""5,000 listeners at 10 posts/s: at 50/s the client alone would need more than the machine."""
QUICK = Plan(background_rooms=10, steps=(Step(0, 20, 20), Step(20, 20, 20)))


def write_users(data: Path, names: list[str]) -> list[str]:
    """Every user at once (``kiroku users add`` rewrites the file per user: minutes at 5,000)."""
    tokens = [secrets.token_urlsafe(32) for _ in names]
    users = [
        {"name": n, "token_sha256": hash_token(t), "admin": i == 0, "created_at": ""}
        for i, (n, t) in enumerate(zip(names, tokens, strict=True))
    ]
    (data / USERS_FILE).write_text(json.dumps({"users": users}))
    return tokens


def start_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    log = data.parent / "server.log"
    cmd = [sys.executable, "-c", "from kiroku.cli import main; main()"]
    args = ["--data", str(data), "serve", "--port", "0", "--log-level", "warning"]
    args += _UNCAPPED
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


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def own_cpu_seconds() -> float:
    """This process's CPU (the listeners' parsing and the posts): the load generator's share."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def post(client: aiohttp.ClientSession, path: str, token: str, body: object) -> Any:
    async with client.post(path, json=body, headers=auth(token)) as response:
        answer = await response.json(content_type=None)
        if response.status >= 300:
            raise SystemExit(f"POST {path} failed: {response.status} {answer}")
        return answer


@dataclass
class Watch:
    """Arrival times per version: the latest arrival over listeners is the 'last listener'."""

    last_seen: dict[int, float] = field(default_factory=dict)
    received: dict[int, int] = field(default_factory=dict)
    connected: int = 0
    wanted: int = 0
    enough: asyncio.Event = field(default_factory=asyncio.Event)

    def saw(self, version: int, now: float) -> None:
        self.last_seen[version] = now
        self.received[version] = self.received.get(version, 0) + 1

    def joined(self) -> None:
        self.connected += 1
        if self.connected >= self.wanted:
            self.enough.set()


class Listen(asyncio.Protocol):
    """One stream, read with a bare protocol: a callback and a regex scan per received
    chunk, so that thousands of listeners cost the client little next to the server."""

    def __init__(self, watch: Watch, request: bytes) -> None:
        self.watch, self.request = watch, request
        self.head = b""
        self.tail = b""
        self.open = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        if not self.open:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"stream refused: {self.head[:200]!r}")
            self.open = True
            self.watch.joined()
            data = self.head.split(b"\r\n\r\n", 1)[1]
        text = self.tail + data
        cut = text.rfind(b"\n") + 1  # an id line split across reads waits for its end
        self.tail = text[cut:]
        for found in _ID.finditer(text, 0, cut):
            self.watch.saw(int(found.group(1)), now)

    def itself(self) -> Listen:
        """The protocol factory ``create_connection`` wants, for this one connection."""
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_listeners(base: str, paths: list[tuple[str, str]]) -> tuple[Watch, list[Listen]]:
    host, port = base.removeprefix("http://").split(":")
    loop = asyncio.get_running_loop()
    watch = Watch()
    streams: list[Listen] = []
    for i in range(0, len(paths), 200):  # in waves, so connecting does not time out
        watch.wanted = min(len(paths), i + 200)
        watch.enough.clear()
        for path, token in paths[i : i + 200]:
            request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            stream = Listen(watch, (request + "\r\n").encode())
            await loop.create_connection(stream.itself, host, int(port))
            streams.append(stream)
        async with asyncio.timeout(120):
            await watch.enough.wait()
    return watch, streams


async def posting(
    client: aiohttp.ClientSession, room: str, token: str, step: Step
) -> dict[int, float]:
    """Posts at ``step.rate``; returns when each version's request was sent."""
    sent: dict[int, float] = {}

    async def one() -> None:
        start = time.perf_counter()
        answer = await post(client, f"/api/rooms/{room}/messages", token, {"body": "hello"})
        sent[int(answer["version"])] = start

    tasks = []
    begin = time.perf_counter()
    for i in range(step.posts):
        await asyncio.sleep(max(0.0, begin + i / step.rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return sent


async def run_step(
    client: aiohttp.ClientSession, base: str, pid: int, room: str, tokens: list[str], step: Step
) -> dict[str, float]:
    """``tokens[0]`` posts; ``tokens[1:]`` listen."""
    owner, tokens = tokens[0], tokens[1:]
    before = rss_bytes(pid)
    paths = [(f"/api/rooms/{room}/stream", tokens[i]) for i in range(step.listeners)]
    watch, streams = await open_listeners(base, paths)
    await asyncio.sleep(1.0)
    per_listener = (rss_bytes(pid) - before) / step.listeners if step.listeners else 0.0
    cpu, mine = cpu_seconds(pid), own_cpu_seconds()
    sent = await posting(client, room, owner, step)
    deadline = time.perf_counter() + 30
    while step.listeners and time.perf_counter() < deadline:
        if all(watch.received.get(v, 0) >= step.listeners for v in sent):
            break
        await asyncio.sleep(0.05)
    cpu_per_post = (cpu_seconds(pid) - cpu) / step.posts
    client_per_post = (own_cpu_seconds() - mine) / step.posts
    delays = [watch.last_seen[v] - t for v, t in sent.items() if v in watch.last_seen]
    missing = sum(step.listeners - watch.received.get(v, 0) for v in sent)
    for stream in streams:
        stream.close()
    await asyncio.sleep(1.0)
    return {
        "cpu_ms": cpu_per_post * 1000,
        "client_ms": client_per_post * 1000,
        "p50_ms": pct(delays, 0.50) * 1000 if step.listeners else float("nan"),
        "p99_ms": pct(delays, 0.99) * 1000 if step.listeners else float("nan"),
        "kb_per_listener": per_listener / 1024,
        "missing": missing,
    }


async def setup(
    client: aiohttp.ClientSession, names: list[str], tokens: list[str], plan: Plan, hot: int
) -> tuple[str, list[tuple[str, str]]]:
    """The hot room (owner + ``hot`` members) and the background rooms, one listener each."""
    owner = tokens[0]
    members = names[1 : hot + 1]
    made = await post(client, "/api/rooms", owner, {"name": "hot", "members": members[:1000]})
    room = str(made["room_id"])
    for name in members[1000:]:
        await post(client, f"/api/rooms/{room}/members", owner, {"user": name})
    background = []
    for r in range(plan.background_rooms):
        name = names[hot + 1 + r]
        made = await post(client, "/api/rooms", owner, {"name": f"bg {r}", "members": [name]})
        background.append((f"/api/rooms/{made['room_id']}/stream", tokens[hot + 1 + r]))
    async with client.get("/api/rooms", params={"min_position": str(made["position"])},
                          headers=auth(owner)) as caught_up:  # fmt: skip
        caught_up.raise_for_status()
    return room, background


def row(step: Step, got: dict[str, float], base_cpu: float) -> str:
    """One line of the table; the per-listener share is the slope against the first step."""
    slope = (got["cpu_ms"] - base_cpu) / step.listeners * 1000 if step.listeners else 0.0
    return (
        f"{step.listeners:>9} | {step.rate:>7.0f} | {got['cpu_ms']:>12.2f} ms | {slope:>7.1f} µs"
        f" | {got['p50_ms']:>14.1f} ms | {got['p99_ms']:>6.1f} ms"
        f" | {got['kb_per_listener']:>10.1f} KB | {got['missing']:.0f}"
    )


async def run(plan: Plan) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    hot = max(step.listeners for step in plan.steps)
    names = [f"u{i}" for i in range(hot + plan.background_rooms + 1)]
    with tempfile.TemporaryDirectory(prefix="kiroku-fanout-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        tokens = write_users(data, names)
        proc, base = start_server(data)
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        try:
            async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as c:
                room, background = await setup(c, names, tokens, plan, hot)
                _, bg_streams = await open_listeners(base, background)
                print(f"{plan.background_rooms} background rooms, one listener each")
                print("listeners | posts/s | server CPU/post | per listener | "
                      "last-listener p50 | p99 | memory/listener | missing")  # fmt: skip
                base_cpu, generator = None, []
                for step in plan.steps:
                    got = await run_step(c, base, proc.pid, room, tokens, step)
                    base_cpu = got["cpu_ms"] if base_cpu is None else base_cpu
                    print(row(step, got, base_cpu), flush=True)
                    generator.append(f"{step.listeners}: {got['client_ms']:.2f} ms")
                print("the load generator's own CPU per post, by listeners:", ", ".join(generator))
                for stream in bg_streams:
                    stream.close()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print(machine("one run, client and server on the same machine"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--listeners", type=int, nargs="+", metavar="L",
        help="only these steps of the full run (0 is always run first: it is the baseline)",
    )  # fmt: skip
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.listeners:
        wanted = {0, *args.listeners}
        plan = Plan(plan.background_rooms, tuple(s for s in plan.steps if s.listeners in wanted))
    asyncio.run(run(plan))


if __name__ == "__main__":
    main()
