"""The fan-out benchmark's listeners, in processes of their own.

In the posting process the listeners' reads took as much CPU as the server's
writes, and the two fought over the same event loop: the measured delays were
the load generator's as much as the server's. Here each worker process runs on
uvloop and reads its streams with bare protocols that only look for ``id:``
lines and note when each arrived (``time.monotonic``: one clock for every process
on the machine, so arrivals compare with the poster's send times). The parent
drives the workers over a pipe and reads their CPU time, to show what the load
generator costs next to the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Listeners"]

_ID = b"\nid: "
WAVE = 200
"""Connections opened at once: more at a time and some time out while the server accepts."""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class _Seen:
    """Per version: how many of this worker's listeners got it, and when the last one did."""

    first: dict[int, float] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    count: dict[int, int] = field(default_factory=dict)
    connected: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class _Stream(asyncio.Protocol):
    """One stream: a search for ``\\nid: `` per received chunk and nothing more."""

    __slots__ = ("head", "open", "request", "seen", "tail", "transport")

    def __init__(self, seen: _Seen, request: bytes) -> None:
        self.seen, self.request = seen, request
        self.head = b""
        self.tail = b""
        self.open = False
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.write(self.request)  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if not self.open:
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            if not self.head.startswith(b"HTTP/1.1 200"):
                raise SystemExit(f"stream refused: {self.head[:200]!r}")
            self.open = True
            self.seen.connected += 1
            self.seen.changed.set()
            data = self.head.split(b"\r\n\r\n", 1)[1]
            self.head = b""
        text = self.tail + data
        cut = text.rfind(b"\n")  # an id line split across reads waits for its end
        self.tail = text[cut:] if cut >= 0 else text
        first, last, count = self.seen.first, self.seen.last, self.seen.count
        at = text.find(_ID)
        while 0 <= at < cut:  # the line ends at or before ``cut``, the last newline
            end = text.find(b"\n", at + 5)
            version = int(text[at + 5 : end])
            last[version] = now
            seen = count.get(version, 0)
            if not seen:
                first[version] = now
            count[version] = seen + 1
            at = text.find(_ID, end)
        if count:
            self.seen.changed.set()

    def itself(self) -> _Stream:
        return self

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _worker(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    seen = _Seen()
    streams: list[_Stream] = []
    while True:
        command, *args = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            host, port, paths = args
            for i in range(0, len(paths), WAVE):
                wanted = len(streams) + len(paths[i : i + WAVE])
                for path, token in paths[i : i + WAVE]:
                    head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}"
                    stream = _Stream(seen, (head + "\r\n\r\n").encode())
                    await loop.create_connection(stream.itself, host, port)
                    streams.append(stream)
                async with asyncio.timeout(120):
                    while seen.connected < wanted:
                        seen.changed.clear()
                        await seen.changed.wait()
            conn.send(_cpu())
        elif command == "cpu":
            conn.send(_cpu())
        elif command == "wait":  # until each version reached every listener, or the timeout
            versions, deadline = args
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(deadline):
                    while any(seen.count.get(v, 0) < len(streams) for v in versions):
                        seen.changed.clear()
                        await seen.changed.wait()
            arrived = [v for v in versions if v in seen.last]
            conn.send(({v: (seen.first[v], seen.last[v]) for v in arrived},
                       {v: seen.count.get(v, 0) for v in versions}, _cpu()))  # fmt: skip
        elif command == "close":
            for stream in streams:
                stream.close()
            streams.clear()
            seen = _Seen()
            conn.send(_cpu())
        else:
            return


def _main(conn: Connection) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        asyncio.run(_worker(conn))
    else:
        uvloop.run(_worker(conn))


class Listeners:
    """``workers`` processes sharing the listeners; their arrivals merged by version."""

    def __init__(self, workers: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._pipes: list[Connection] = []
        self._procs: list[Any] = []
        for _ in range(workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_main, args=(theirs,), daemon=True)
            proc.start()
            self._pipes.append(mine)
            self._procs.append(proc)
        self.count = 0

    async def _ask(self, messages: list[tuple[Any, ...]]) -> list[Any]:
        for pipe, message in zip(self._pipes, messages, strict=True):
            pipe.send(message)
        return list(await asyncio.gather(*(asyncio.to_thread(p.recv) for p in self._pipes)))

    async def open(self, base: str, paths: list[tuple[str, str]]) -> None:
        """Open ``paths`` (each with its token), shared out over the workers; returns when all
        answered 200."""
        host, port = base.removeprefix("http://").split(":")
        n = len(self._pipes)
        await self._ask([("open", host, int(port), paths[i::n]) for i in range(n)])
        self.count = len(paths)

    async def cpu(self) -> float:
        """The workers' CPU seconds so far, together."""
        answers: list[float] = await self._ask([("cpu",)] * len(self._pipes))
        return sum(answers)

    async def wait(
        self, versions: list[int], seconds: float
    ) -> tuple[dict[int, tuple[float, float]], dict[int, int], float]:
        """When the first and the last listener got each version, how many got it, and the
        workers' CPU."""
        answers = await self._ask([("wait", versions, seconds)] * len(self._pipes))
        arrivals: dict[int, tuple[float, float]] = {}
        count: dict[int, int] = dict.fromkeys(versions, 0)
        for got, counted, _ in answers:
            for v, (first, last) in got.items():
                was = arrivals.get(v, (first, last))
                arrivals[v] = (min(was[0], first), max(was[1], last))
            for v, c in counted.items():
                count[v] += c
        return arrivals, count, sum(cpu for _, _, cpu in answers)

    async def close(self) -> None:
        await self._ask([("close",)] * len(self._pipes))
        self.count = 0

    def stop(self) -> None:
        for pipe in self._pipes:
            with contextlib.suppress(OSError):
                pipe.send(("stop",))
        for proc in self._procs:
            proc.join(10)
