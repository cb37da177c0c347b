"""The server's direct body writer (the ``kiroku.write_body`` extension the live
streams write through) against a real uvicorn, on uvloop and on asyncio's loop:
its bytes arrive in order between the response's own ``send`` calls, framed as
uvicorn frames them, and it declines rather than buffer when the response has not
started, has ended, or the client stopped reading."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
import uvloop

from kiroku.api.server import ServerOptions, guarded_protocol
from kiroku.api.sse import WRITE_BODY

Writer = Callable[[bytes], bool]
BLOCK = b"x" * 65536


class App:
    """``/mixed`` interleaves direct writes with ``send``; ``/flood`` writes until refused."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.flooded = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        write: Writer = scope["extensions"][WRITE_BODY]
        start = {"type": "http.response.start", "status": 200, "headers": []}
        if scope["path"] == "/mixed":
            self.answers["before start"] = write(b"early")
            await send(start)
            await send({"type": "http.response.body", "body": b"one,", "more_body": True})
            self.answers["live"] = write(b"two,")
            await send({"type": "http.response.body", "body": b"three", "more_body": False})
            self.answers["after end"] = write(b"late")
            return
        await send(start)
        blocks = 0
        while write(BLOCK):  # the client reads nothing: the writer must stop by itself
            blocks += 1
            assert blocks < 10_000, "the writer buffered without bound"
        self.answers["blocks"] = blocks
        self.flooded.set()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


RUNNERS = {"uvloop": uvloop.run, "asyncio": asyncio.run}


@contextlib.asynccontextmanager
async def served() -> AsyncIterator[tuple[App, int]]:
    app = App()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", log_level="warning",
        http=guarded_protocol(ServerOptions()),
    )  # fmt: skip
    server = uvicorn.Server(config)
    listening = socket.create_server(("127.0.0.1", 0))  # connections wait in its backlog
    port = listening.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        yield app, port
    finally:
        server.should_exit = True
        await task


def dechunk(raw: bytes) -> bytes:
    head, _, rest = raw.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    body = b""
    while True:
        size, _, rest = rest.partition(b"\r\n")
        n = int(size, 16)
        if n == 0:
            return body
        body, rest = body + rest[:n], rest[n + 2 :]


async def get(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    return reader, writer


async def mixed() -> None:
    async with served() as (app, port):
        reader, writer = await get(port, "/mixed")
        raw = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert dechunk(raw) == b"one,two,three"
    assert app.answers == {"before start": False, "live": True, "after end": False}


async def flood() -> None:
    async with served() as (app, port):
        reader, writer = await get(port, "/flood")
        await asyncio.wait_for(app.flooded.wait(), 30)  # it stopped without our reading a byte
        raw = await asyncio.wait_for(reader.read(), 30)
        writer.close()
    assert dechunk(raw) == BLOCK * app.answers["blocks"]  # all it accepted, nothing lost


@pytest.mark.parametrize("loop", list(RUNNERS))
def test_direct_writes_arrive_in_order_between_sends(loop: str) -> None:
    RUNNERS[loop](mixed())


@pytest.mark.parametrize("loop", list(RUNNERS))
def test_the_writer_declines_once_the_client_stops_reading(loop: str) -> None:
    RUNNERS[loop](flood())
