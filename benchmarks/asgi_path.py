"""What kiroku's HTTP application costs per request, in-process: no sockets, no server.

    python -m benchmarks.asgi_path                  # CPU per request
    python -m benchmarks.asgi_path --instructions   # instructions per request, under valgrind

Requests are handed to the ASGI application directly, as uvicorn would hand them,
50 at a time: ``GET /api/me`` (the gate, the router, the token, a JSON answer)
and ``POST /api/rooms/{id}/messages`` (the same, and a command decided and
appended to a SQLite journal, durable). The baseline, measured in the same run,
is the ceiling's application from ``benchmarks.http_ceiling`` answering its
posting route. Server, socket and kernel costs are left out, which is the point:
what is left is the part kiroku's own code decides.

On a noisy machine CPU time moves by a fifth from one minute to the next.
``--instructions`` counts instructions instead (valgrind's callgrind: the same
count for the same code whatever else the machine does); each figure is the
difference between two runs of different lengths, so start-up cancels out. It
counts user-space work only: the journal's fsync and the kernel's share are not
in it.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import uvloop
from starlette.types import ASGIApp, Message, Scope

from benchmarks import http_ceiling
from benchmarks.callgrind import instructions
from benchmarks.machine import machine
from kiroku import Journal
from kiroku.api.limits import BODY_IN
from kiroku.api.server import ServerOptions
from kiroku.apps.chat import Room, app
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.node import open_node
from kiroku.apps.chat.server import build_app
from kiroku.journal.sqlite import SQLiteJournal

__all__ = ["CASES", "main"]

CASES = ("me", "post", "ceiling")
AT_ONCE = 50
BODY = b'{"body":"hello"}'
POST = "/api/rooms/r/messages"


def _scope(method: str, path: str, token: str, body: bool) -> Scope:
    headers = [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))]
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("bench", 80), "extensions": {BODY_IN: lambda: True},
    }  # fmt: skip


async def _journal(data: Path) -> Journal:
    return await SQLiteJournal.open(data / "journal.db")


class Target:
    """One case: an application and the request it is sent, counting the answers."""

    def __init__(self, asgi: ASGIApp, method: str, path: str, token: str) -> None:
        self.asgi, self.method, self.path, self.token = asgi, method, path, token
        self.statuses: dict[int, int] = {}

    async def _one(self) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": BODY, "more_body": False}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                self.statuses[status] = self.statuses.get(status, 0) + 1

        await self.asgi(
            _scope(self.method, self.path, self.token, self.method == "POST"), receive, send
        )

    async def requests(self, n: int) -> None:
        for _ in range(max(1, n // AT_ONCE)):
            await asyncio.gather(*(self._one() for _ in range(AT_ONCE)))


async def _rounds(target: Target, n: int, rounds: int) -> list[float]:
    """CPU µs per request of ``rounds`` rounds of ``n`` requests (after one warm-up round)."""
    await target.requests(min(n, 500))
    spent = []
    for _ in range(rounds):
        cpu = time.process_time()
        await target.requests(n)
        spent.append((time.process_time() - cpu) / n * 1e6)
    if any(status >= 300 for status in target.statuses):
        raise SystemExit(f"answers other than success: {target.statuses}")
    return spent


async def _measure(case: str, n: int, rounds: int) -> list[float]:
    if case == "ceiling":  # no kiroku: a token of its own
        token = secrets.token_urlsafe(32)
        ceiling = http_ceiling.ceiling_app(token)
        return await _rounds(Target(ceiling, "POST", POST, token), n, rounds)
    with tempfile.TemporaryDirectory(prefix="kiroku-asgi-") as tmp:
        node = await open_node(Path(tmp), app, _journal)
        try:
            token = node.users.add("ann", admin=True)
            limits = ServerOptions(max_requests_per_user=AT_ONCE)
            asgi = build_app(node, start_node=False, limits=limits)
            await node.write.runtime.execute(Room, "r", c.CreateRoom("r", "R", "ann", ()))
            if case == "me":
                return await _rounds(Target(asgi, "GET", "/api/me", token), n, rounds)
            return await _rounds(Target(asgi, "POST", POST, token), n, rounds)
        finally:
            await node.close()


def _instructions(case: str, n: int) -> int:
    """User-space instructions per request: two counted runs, ``n`` and ``3n``."""
    counts = []
    for requests in (n, 3 * n):
        args = ["-m", "benchmarks.asgi_path", "--case", case, "--requests", str(requests)]
        counts.append(instructions([*args, "--rounds", "1"]))
    return (counts[1] - counts[0]) // (2 * n)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5_000, help="per round (default 5000)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--case", choices=CASES, action="append", help="default: all")
    parser.add_argument("--instructions", action="store_true", help="count under valgrind")
    args = parser.parse_args(argv)
    cases = args.case or list(CASES)
    if args.instructions:
        counts = {case: _instructions(case, min(args.requests, 1_000)) for case in cases}
        for case, count in counts.items():
            ratio = f", {count / counts['ceiling']:.2f}x the ceiling" if "ceiling" in counts else ""
            print(f"{case}: {count:,} instructions per request{ratio}")
        return
    results = {case: uvloop.run(_measure(case, args.requests, args.rounds)) for case in cases}
    for case, spent in results.items():
        median = statistics.median(spent)
        ratio = ""
        if "ceiling" in results and case != "ceiling":
            ratio = f", {median / statistics.median(results['ceiling']):.2f}x the ceiling"
        print(
            f"{case}: {median:.1f} us CPU per request (min {min(spent):.1f}, max {max(spent):.1f}"
            f", {len(spent)} rounds of {args.requests}){ratio}"
        )
    print(machine("one process"))


if __name__ == "__main__":
    main()
