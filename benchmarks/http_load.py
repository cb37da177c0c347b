"""The chat system over HTTP: posting under load against the server stack's ceiling,
and live fan-out.

    python -m benchmarks.http_load            # the run recorded in RESULTS.md ("HTTP")
    python -m benchmarks.http_load --quick    # a smoke run (seconds)
    python -m benchmarks.http_load --profile  # and a py-spy profile of the first run
    python -m benchmarks.http_load --rate 3000  # posting only, at an offered 3,000/s

It starts ``kiroku serve`` as a subprocess on a fresh data directory and drives
it with ``wrk`` (Debian's, a C load generator whose CPU is reported beside the
server's, to show it is not the bottleneck):

1. Posting: C connections (50) posting into R rooms (50) for D seconds with a
   real token, every acknowledged post durable (SQLite WAL, synchronous=FULL).
   Reports posts/s, p50/p99 latency, and the CPU each server process spent per
   post (from /proc, user + system); how the projections kept up (batch sizes,
   lag from each event's occurrence, ``http_load_batches``); and, from a probe
   posting beside the load, how long after a post's answer a ``min_position``
   read of all four projections answers (``http_ryw``).
   Then, on the same server, ``GET /api/me`` for a third of the time: kiroku's
   HTTP path (middleware, token, JSON answer) without the write it leads to.
2. Ceiling: the same server stack (uvicorn on uvloop, kiroku's guarded httptools
   protocol, Starlette) with a minimal endpoint doing what every kiroku request
   does (a bearer token checked by SHA-256, a msgspec body, one middleware,
   kiroku's route count) under the same load; and the ratio kiroku/ceiling.
   Posting and ceiling are measured ``--runs`` times (3), alternately, each on
   a fresh server; the summary gives the median and the spread of each figure.
3. Fan-out: L listeners (100) on one room's server-sent event stream; one
   writer posts M messages, one at a time. The delay of a message is from
   just before its POST until a listener has parsed its event; reports
   p50/p99/max over every (listener, message) pair.

With ``--rate N`` only step 1 runs, at an offered N posts/s over 200
connections instead of as fast as answers come back (``http_wrk``): the
latency and the projections' lag of a server doing N posts/s, where the
saturated run gives those of a server with a queue of 50 posts. The targets
"3,000 posts/s with p99 <= 25 ms, projections caught up within 10 ms p99" are
read at ``--rate 3000``.

The load generator and the server share the machine's cores, so on a small
machine the numbers are a floor for the server, not a ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from benchmarks import http_load_batches, http_profile, http_ryw
from benchmarks.http_ceiling import STACKS, serve_ceiling
from benchmarks.http_wrk import JsonObj, Plan, describe, wrk
from benchmarks.machine import machine
from benchmarks.serving import auth, pct, serve_command, start_server
from kiroku.api.auth import TokenStore

FULL = Plan(clients=50, rooms=50, seconds=15.0, listeners=100, messages=100)
QUICK = Plan(clients=50, rooms=50, seconds=3.0, listeners=100, messages=10)
PACED_CLIENTS = 200


def _server_pid(proc: subprocess.Popen[bytes], profiled: bool) -> int:
    """The server's own pid: under py-spy, the one child of the py-spy process."""
    if not profiled:
        return proc.pid
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    return int(children[0])


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


async def make_rooms(client: aiohttp.ClientSession, token: str, rooms: int) -> list[str]:
    made = []
    for r in range(rooms):
        answer = await post(client, "/api/rooms", token, {"name": f"room {r}"})
        made.append(str(answer["room_id"]))
    return made


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


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(60)


def _fresh(users: Path, root: Path, n: int) -> Path:
    """A new data directory holding only the users file, so every run starts empty."""
    data = root / f"data{n}"
    data.mkdir()
    shutil.copy(users, data / users.name)
    return data


async def posting(data: Path, token: str, plan: Plan, profile: Path | None) -> JsonObj:
    """One measured posting run on a fresh ``kiroku serve`` (under py-spy with
    ``profile``); then, from its data directory, how the projections kept up
    (``http_load_batches``)."""
    # One token drives every connection: a paced run's 200 may all be in flight at once.
    serve = serve_command(data, "--max-requests-per-user", str(plan.clients + 16))
    cmd = serve if profile is None else http_profile.launch(serve, profile)
    proc, base = start_server(data, cmd)
    pid = _server_pid(proc, profile is not None)
    try:
        async with session(base, 4) as client:
            rooms = await make_rooms(client, token, plan.rooms + 1)
        paths = [f"/api/rooms/{room}/messages" for room in rooms[1:]]
        stop = asyncio.Event()
        probing = asyncio.create_task(http_ryw.probe(base, token, rooms[0], stop))
        try:
            got = await asyncio.to_thread(wrk, base, paths, token, plan, pid)
        finally:
            stop.set()
        got["ryw"] = await probing
        got["paths"] = paths
        got["projections"] = await asyncio.to_thread(http_load_batches.projections, data)
        if plan.rate:
            return got
        short = dataclasses.replace(plan, seconds=max(3.0, plan.seconds / 3))
        got["me"] = wrk(base, ["/api/me"], token, short, pid, method="GET")
        return got
    finally:
        os.kill(pid, signal.SIGTERM)
        proc.wait(60)


def ceiling(data: Path, token: str, paths: list[str], plan: Plan, stack: str) -> JsonObj:
    # "=": a token may begin with "-", which argparse would take for an option
    own = [sys.executable, "-m", "benchmarks.http_load", f"--serve-ceiling={token}"]
    proc, base = start_server(data, [*own, "--stack", stack])
    try:
        return wrk(base, paths, token, plan, proc.pid)
    finally:
        _stop(proc)


def _spread(name: str, values: list[float], unit: str, digits: int = 0) -> str:
    med = statistics.median(values)
    return f"{name} {med:.{digits}f}{unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def summarize(kiroku: list[JsonObj], ceilings: list[JsonObj]) -> str:
    """Median (min-max) over the runs; CPU per post summed over the server's processes."""
    own_cpu = [sum(k["cpu_us"].values()) for k in kiroku]
    http_cpu = [next(iter(k["cpu_us"].values())) for k in kiroku]  # the server's own pid first
    projected = [list(k["projections"].values()) for k in kiroku]
    batch = [statistics.median(p["size_p50"] for p in ps) for ps in projected]
    lag50 = [max(p["lag_p50_ms"] for p in ps) for ps in projected]  # the slowest projection's
    lag99 = [max(p["lag_p99_ms"] for p in ps) for ps in projected]
    others = [a - h for a, h in zip(own_cpu, http_cpu, strict=True)]
    lines = [
        f"summary over {len(kiroku)} runs, median (min-max):",
        "  kiroku: " + ", ".join([
            _spread("posts/s", [k["per_second"] for k in kiroku], ""),
            _spread("p50", [k["p50_ms"] for k in kiroku], " ms", 1),
            _spread("p99", [k["p99_ms"] for k in kiroku], " ms", 1),
            _spread("CPU per post", own_cpu, " us"),
        ]),
        "  CPU per post by process: " + ", ".join([
            _spread("HTTP process", http_cpu, " us"),
            _spread("others (the projector)", others, " us"),
        ]),
        "  projections: " + ", ".join([
            _spread("batch p50", batch, ""),
            _spread("lag occurred->applied p50 (slowest)", lag50, " ms", 1),
            _spread("p99 (slowest)", lag99, " ms", 1),
        ]),
        "  read-your-writes after the answer: " + ", ".join([
            _spread("lag p50", [k["ryw"]["lag_p50_ms"] for k in kiroku], " ms", 1),
            _spread("p99", [k["ryw"]["lag_p99_ms"] for k in kiroku], " ms", 1),
        ]),
    ]  # fmt: skip
    if not ceilings:  # an offered rate: no ceiling to compare with
        return "\n".join(lines)
    ratios = [k["per_second"] / c["per_second"] for k, c in zip(kiroku, ceilings, strict=True)]
    return "\n".join([
        *lines,
        "  ceiling: " + ", ".join([
            _spread("req/s", [c["per_second"] for c in ceilings], ""),
            _spread("p99", [c["p99_ms"] for c in ceilings], " ms", 1),
            _spread("CPU per request", [sum(c["cpu_us"].values()) for c in ceilings], " us"),
        ]),
        "  kiroku's HTTP path alone (GET /api/me): " + ", ".join([
            _spread("req/s", [k["me"]["per_second"] for k in kiroku], ""),
            _spread("CPU per request", [sum(k["me"]["cpu_us"].values()) for k in kiroku], " us"),
        ]),
        "  " + _spread("ratio kiroku/ceiling", ratios, "", 2),
    ])  # fmt: skip


async def run(plan: Plan, runs: int, compare: bool = False, profile: Path | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix="kiroku-http-") as tmp:
        root = Path(tmp)
        store = TokenStore(root)
        names = [f"user{i}" for i in range(max(plan.clients, 10))]
        tokens = [store.add(name, admin=(i == 0)) for i, name in enumerate(names)]
        kiroku: list[JsonObj] = []
        ceilings: list[JsonObj] = []
        for n in range(runs):
            spy = profile if n == 0 else None
            kiroku.append(await posting(_fresh(store.path, root, n), tokens[0], plan, spy))
            print(describe(f"run {n + 1}: posting (kiroku serve)", kiroku[-1], plan), flush=True)
            print(http_load_batches.describe(kiroku[-1]["projections"]), flush=True)
            print(http_ryw.describe(kiroku[-1]["ryw"]), flush=True)
            if spy is not None:
                print(http_profile.summaries(spy), flush=True)
            if plan.rate:
                continue
            print(describe(f"run {n + 1}: GET /api/me (kiroku serve)", kiroku[-1]["me"], plan))
            paths = kiroku[-1]["paths"]
            ceilings.append(ceiling(root, tokens[0], paths, plan, STACKS[0]))
            label = f"run {n + 1}: ceiling (minimal endpoint, {STACKS[0]})"
            print(describe(label, ceilings[-1], plan), flush=True)
        for stack in STACKS[1:] if compare else ():
            measured = ceiling(root, tokens[0], paths, plan, stack)
            print(describe(f"ceiling (minimal endpoint, {stack})", measured, plan))
        print(summarize(kiroku, ceilings))
        if plan.rate:
            print(machine("client and server on the same machine"))
            return
        proc, base = start_server(_fresh(store.path, root, runs))
        try:
            fan = await fan_out(base, tokens, names, plan)
        finally:
            _stop(proc)
        print(
            f"fan-out: {plan.listeners} listeners x {plan.messages} messages: "
            f"{fan['deliveries']:.0f} deliveries, p50 {fan['p50_ms']:.1f} ms, "
            f"p99 {fan['p99_ms']:.1f} ms, max {fan['max_ms']:.1f} ms"
        )
    print(machine("client and server on the same machine"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument(
        "--compare-stacks", action="store_true", help=f"the ceiling on each of {STACKS}"
    )
    parser.add_argument("--runs", type=int, help="measured runs (default 3, 1 with --quick)")
    parser.add_argument(
        "--profile",
        nargs="?",
        type=Path,
        const=Path("http_profile.raw"),
        metavar="FILE",
        help="py-spy profile of the first run's server processes into FILE (raw folded "
        "stacks; default http_profile.raw; needs py-spy)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        metavar="N",
        help=f"post at an offered N/s over {PACED_CLIENTS} connections (posting only)",
    )
    parser.add_argument("--serve-ceiling", metavar="TOKEN", help=argparse.SUPPRESS)
    parser.add_argument("--stack", choices=STACKS, default=STACKS[0], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(args.serve_ceiling, args.stack)
    else:
        runs = args.runs or (1 if args.quick else 3)
        plan = QUICK if args.quick else FULL
        if args.rate < 0:
            parser.error("--rate must be positive")
        if args.rate:
            plan = dataclasses.replace(plan, rate=args.rate, clients=PACED_CLIENTS)
        asyncio.run(run(plan, runs, args.compare_stacks, args.profile))


if __name__ == "__main__":
    main()
