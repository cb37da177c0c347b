"""The chat system over HTTP: posting under load against the server stack's ceiling,
and live fan-out.

    python -m benchmarks.http_load            # the run recorded in RESULTS.md ("HTTP")
    python -m benchmarks.http_load --quick    # a smoke run (seconds)

It starts ``kiroku serve`` as a subprocess on a fresh data directory and drives
it with ``wrk`` (Debian's, a C load generator whose CPU is reported beside the
server's, to show it is not the bottleneck):

1. Posting: C connections (50) posting into R rooms (50) for D seconds with a
   real token, every acknowledged post durable (SQLite WAL, synchronous=FULL).
   Reports posts/s, p50/p99 latency, and the CPU each server process spent per
   post (from /proc, user + system).
2. Ceiling: the same server stack (uvicorn on uvloop, kiroku's guarded httptools
   protocol, Starlette) with a minimal endpoint doing what every kiroku request
   does (a bearer token checked by SHA-256, a msgspec body, one middleware,
   kiroku's route count) under the same load; and the ratio kiroku/ceiling.
3. Fan-out: L listeners (100) on one room's server-sent event stream; one
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from benchmarks.http_ceiling import STACKS, serve_ceiling
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


FULL = Plan(clients=50, rooms=50, seconds=15.0, listeners=100, messages=100)
QUICK = Plan(clients=50, rooms=50, seconds=3.0, listeners=100, messages=10)


def start_server(data: Path, cmd: list[str] | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """``kiroku serve`` on ``data`` (or ``cmd``, which prints the same ready line)."""
    log = data.parent / "server.log"
    if cmd is None:
        cmd = [sys.executable, "-c", "from kiroku.cli import main; main()", "--data", str(data)]
        cmd += ["serve", "--port", "0", "--log-level", "warning"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
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


async def make_rooms(client: aiohttp.ClientSession, token: str, rooms: int) -> list[str]:
    made = []
    for r in range(rooms):
        answer = await post(client, "/api/rooms", token, {"name": f"room {r}"})
        made.append(str(answer["room_id"]))
    return made


_WRK_SCRIPT = """
paths = {%(paths)s}
headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", paths[(counter %% #paths) + 1], headers, '{"body": "hello"}')
end
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server may run its read side in child processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(current := todo.pop())
        todo += children.get(current, [])
    return found


def wrk(base: str, paths: list[str], token: str, plan: Plan, pid: int) -> JsonObj:
    """One wrk run; its counts, latencies and the CPU per post of each server process."""
    quoted = ", ".join(f'"{p}"' for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % {"paths": quoted, "token": token})
    pids = process_tree(pid)
    before, start = {p: cpu_seconds(p) for p in pids}, os.times()
    cmd = ["wrk", "-t2", f"-c{plan.clients}", f"-d{plan.seconds:.0f}s", "-s", script.name, base]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    after = {p: cpu_seconds(p) for p in pids}
    end = os.times()
    os.unlink(script.name)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    requests, errors, micros, p50, p99 = (float(v) for v in line.split()[1:])
    ok = requests - errors
    return {
        "requests": requests, "errors": errors, "per_second": ok / (micros / 1e6),
        "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
        "cpu_us": {p: (after[p] - before[p]) / max(ok, 1) * 1e6 for p in pids},
        "wrk_cpu_s": end.children_user + end.children_system
        - start.children_user - start.children_system,
    }  # fmt: skip


def describe(name: str, got: JsonObj, plan: Plan) -> str:
    cpu = ", ".join(f"pid {p}: {us:.0f} us" for p, us in got["cpu_us"].items())
    return (
        f"{name}: {plan.clients} connections, {plan.rooms} rooms, {plan.seconds:.0f}s: "
        f"{got['requests']:.0f} requests ({got['errors']:.0f} errors), "
        f"{got['per_second']:.0f}/s, p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms; "
        f"CPU per request {cpu}; wrk CPU {got['wrk_cpu_s']:.1f} s"
    )


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


async def run(plan: Plan, compare: bool = False) -> None:
    with tempfile.TemporaryDirectory(prefix="kiroku-http-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        store = TokenStore(data)
        names = [f"user{i}" for i in range(max(plan.clients, 10))]
        tokens = [store.add(name, admin=(i == 0)) for i, name in enumerate(names)]
        proc, base = start_server(data)
        try:
            async with session(base, 4) as client:
                rooms = await make_rooms(client, tokens[0], plan.rooms)
            paths = [f"/api/rooms/{room}/messages" for room in rooms]
            kiroku = wrk(base, paths, tokens[0], plan, proc.pid)
            print(describe("posting (kiroku serve)", kiroku, plan))
            fan = await fan_out(base, tokens, names, plan)
            print(
                f"fan-out: {plan.listeners} listeners x {plan.messages} messages: "
                f"{fan['deliveries']:.0f} deliveries, p50 {fan['p50_ms']:.1f} ms, "
                f"p99 {fan['p99_ms']:.1f} ms, max {fan['max_ms']:.1f} ms"
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        for stack in STACKS if compare else STACKS[:1]:
            own = [sys.executable, "-m", "benchmarks.http_load", "--serve-ceiling", tokens[0]]
            proc, base = start_server(data, [*own, "--stack", stack])
            try:
                measured = wrk(base, paths, tokens[0], plan, proc.pid)
                print(describe(f"ceiling (minimal endpoint, {stack})", measured, plan))
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(60)
            if stack == STACKS[0]:
                ceiling = measured
    print(f"ratio kiroku/ceiling: {kiroku['per_second'] / ceiling['per_second']:.2f}")
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
    parser.add_argument(
        "--compare-stacks", action="store_true", help=f"the ceiling on each of {STACKS}"
    )
    parser.add_argument("--serve-ceiling", metavar="TOKEN", help=argparse.SUPPRESS)
    parser.add_argument("--stack", choices=STACKS, default=STACKS[0], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ceiling:
        serve_ceiling(args.serve_ceiling, args.stack)
    else:
        asyncio.run(run(QUICK if args.quick else FULL, args.compare_stacks))


if __name__ == "__main__":
    main()
