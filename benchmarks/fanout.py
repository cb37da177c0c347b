"""Live push to a big room: what a post costs as the number of people watching grows.

    python -m benchmarks.fanout           # 0, 100, 1,000 and 5,000 listeners on one room
    python -m benchmarks.fanout --quick   # a smoke run (seconds)

It starts ``kiroku serve`` as a subprocess on a fresh data directory with a few
hundred rooms, each watched by one listener (the background), and one hot room.
For each step it opens L listeners on the hot room's stream (each a different
member), then posts into the hot room at a fixed rate and reports:

- the server's CPU per post (user + system time of the server process, read
  from ``/proc``, over the posting window, divided by the posts), and the
  per-listener share: the slope against the step without hot listeners;
- the delivery latency from just before a post's request is sent to the moment
  the *last* listener read it (p50 and p99 over the posts), on ``time.monotonic``,
  one clock for every process on the machine;
- memory per idle listener: the server's resident set after the L listeners
  connected, minus before, divided by L;
- below the table, the load generator's own CPU per post: the poster (this
  process, aiohttp) and the listener processes, so it shows when the machine
  rather than the server bounds the latencies.

``--listeners 1000`` runs only that step (after the baseline without listeners);
``--repeat 5`` runs each step with listeners five times on the same server and
prints medians and spreads (the machine may be shared: one run says little).
Below the table, per step, what bounds it (see ``benchmarks.fanout_report``).
The server's connection and stream caps are lifted: they are not measured here.

The listeners run in ``--workers`` processes of their own on uvloop (see
``benchmarks.fanout_listeners``): bare protocols that only look for ``id:``
lines, so a post costs them a small fraction of what it costs the server. In the
posting process they used to take as much CPU as the server and shared its event
loop with the posts. Client and server still share the machine's cores, so
latencies are an upper bound.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.fanout_listeners import Listeners
from benchmarks.fanout_report import HEADER, Runs, detail, row
from benchmarks.machine import machine
from benchmarks.serving import auth, pct, serve_command, start_server
from kiroku.api.auth import USERS_FILE, hash_token
from kiroku.api.server import run as run_loop

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
QUICK = Plan(background_rooms=10, steps=(Step(0, 20, 20), Step(150, 20, 20)))
"""More listeners than a fan-out slice (128), so a smoke run crosses a yield."""


def write_users(data: Path, names: list[str]) -> list[str]:
    """Every user at once (``kiroku users add`` rewrites the file per user: minutes at 5,000)."""
    tokens = [secrets.token_urlsafe(32) for _ in names]
    users = [
        {"name": n, "token_sha256": hash_token(t), "admin": i == 0, "created_at": ""}
        for i, (n, t) in enumerate(zip(names, tokens, strict=True))
    ]
    (data / USERS_FILE).write_text(json.dumps({"users": users}))
    return tokens


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime


def own_cpu_seconds() -> float:
    """This process's CPU (the posts and their answers): the poster's share of the load."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_queue_seconds(pid: int) -> float:
    """Time the server's event-loop thread was ready to run but waited for a core: on a
    shared machine, the part of a delay that is the machine's, not the server's."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE


async def post(client: aiohttp.ClientSession, path: str, token: str, body: object) -> Any:
    async with client.post(path, json=body, headers=auth(token)) as response:
        answer = await response.json(content_type=None)
        if response.status >= 300:
            raise SystemExit(f"POST {path} failed: {response.status} {answer}")
        return answer


async def posting(
    client: aiohttp.ClientSession, room: str, token: str, step: Step
) -> tuple[dict[int, float], dict[int, float]]:
    """Posts at ``step.rate``; returns when each version's request was sent, and answered."""
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}

    async def one() -> None:
        start = time.monotonic()
        answer = await post(client, f"/api/rooms/{room}/messages", token, {"body": "hello"})
        answered[int(answer["version"])] = time.monotonic()
        sent[int(answer["version"])] = start

    tasks = []
    begin = time.monotonic()
    for i in range(step.posts):
        await asyncio.sleep(max(0.0, begin + i / step.rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return sent, answered


async def run_step(
    client: aiohttp.ClientSession,
    base: str,
    pid: int,
    room: str,
    tokens: list[str],
    step: Step,
    listeners: Listeners,
) -> dict[str, float]:
    """``tokens[0]`` posts; ``tokens[1:]`` listen."""
    owner, tokens = tokens[0], tokens[1:]
    before = rss_bytes(pid)
    paths = [(f"/api/rooms/{room}/stream", tokens[i]) for i in range(step.listeners)]
    await listeners.open(base, paths)
    await asyncio.sleep(1.0)
    per_listener = (rss_bytes(pid) - before) / step.listeners if step.listeners else 0.0
    cpu, mine, theirs = cpu_seconds(pid), own_cpu_seconds(), await listeners.cpu()
    waited = run_queue_seconds(pid)
    sent, answered = await posting(client, room, owner, step)
    arrivals, received, theirs_after = await listeners.wait(list(sent), 30.0)
    cpu_per_post = (cpu_seconds(pid) - cpu) / step.posts
    poster = (own_cpu_seconds() - mine) / step.posts
    reader = (theirs_after - theirs) / step.posts
    waited = (run_queue_seconds(pid) - waited) / step.posts
    delays = [arrivals[v][1] - t for v, t in sent.items() if v in arrivals]
    firsts = [arrivals[v][0] - t for v, t in answered.items() if v in arrivals]
    acked = [arrivals[v][1] - t for v, t in answered.items() if v in arrivals]
    answers = [answered[v] - t for v, t in sent.items()]
    missing = sum(step.listeners - received.get(v, 0) for v in sent)
    await listeners.close()
    await asyncio.sleep(1.0)
    return {
        "cpu_ms": cpu_per_post * 1000,
        "poster_ms": poster * 1000,
        "reader_ms": reader * 1000,
        "p50_ms": pct(delays, 0.50) * 1000 if step.listeners else float("nan"),
        "p99_ms": pct(delays, 0.99) * 1000 if step.listeners else float("nan"),
        "first_p50_ms": pct(firsts, 0.50) * 1000 if step.listeners else float("nan"),
        "first_p99_ms": pct(firsts, 0.99) * 1000 if step.listeners else float("nan"),
        "waited_ms": waited * 1000,
        "answer_p50_ms": pct(answers, 0.50) * 1000,
        "answer_p99_ms": pct(answers, 0.99) * 1000,
        "acked_p50_ms": pct(acked, 0.50) * 1000 if step.listeners else float("nan"),
        "acked_p99_ms": pct(acked, 0.99) * 1000 if step.listeners else float("nan"),
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


async def run(plan: Plan, workers: int, repeat: int) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the server inherits it
    hot = max(step.listeners for step in plan.steps)
    names = [f"u{i}" for i in range(hot + plan.background_rooms + 1)]
    with tempfile.TemporaryDirectory(prefix="kiroku-fanout-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        tokens = write_users(data, names)
        proc, base = start_server(data, serve_command(data, *_UNCAPPED))
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        quiet, hot_listeners = Listeners(1), Listeners(workers)
        try:
            async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as c:
                room, background = await setup(c, names, tokens, plan, hot)
                await quiet.open(base, background)
                print(f"{plan.background_rooms} background rooms, one listener each")
                print(HEADER)
                base_cpu, details, runs = None, [], Runs()
                for step in plan.steps:
                    for _ in range(repeat if step.listeners else 1):
                        got = await run_step(c, base, proc.pid, room, tokens, step, hot_listeners)
                        base_cpu = got["cpu_ms"] if base_cpu is None else base_cpu
                        slope = (got["cpu_ms"] - base_cpu) / step.listeners if step.listeners else 0
                        got["per_listener_us"] = slope * 1000
                        print(row(step.listeners, step.rate, got), flush=True)
                        details.append(detail(step.listeners, got))
                        runs.add(step.listeners, got)
                print("what bounds each step:", *details, sep="\n")
                print(runs.summary())
                await quiet.close()
        finally:
            quiet.stop()
            hot_listeners.stop()
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
    print(machine(f"one run; server, poster and {workers} listener processes on one machine"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--listeners", type=int, nargs="+", metavar="L",
        help="only these steps of the full run (0 is always run first: it is the baseline)",
    )  # fmt: skip
    parser.add_argument(
        "--workers", type=int, default=2, help="processes the listeners are spread over"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N",
        help="run each step with listeners N times on the same server, and print medians",
    )  # fmt: skip
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.listeners:
        wanted = {0, *args.listeners}
        plan = Plan(plan.background_rooms, tuple(s for s in plan.steps if s.listeners in wanted))
    run_loop(run(plan, args.workers, args.repeat))


if __name__ == "__main__":
    main()
