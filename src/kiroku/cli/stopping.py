"""The uvicorn server ``kiroku serve`` runs: it says where it listens, and a stop
signal ends the live streams at once and lets the runtime drain before exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import click
import uvicorn

__all__ = ["STOP_SIGNALS", "StoppingServer"]

log = logging.getLogger("kiroku.serve")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StoppingServer(uvicorn.Server):
    """Ends the live streams (``on_stop``) as soon as a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Say where we listen, with the real port when asked for port 0."""
        await super().startup(sockets)
        loop = type(asyncio.get_running_loop())
        log.info("event loop %s.%s, HTTP protocol %s", loop.__module__, loop.__qualname__,
                 self.config.http_protocol_class.__mro__[1].__name__)  # fmt: skip
        for server in self.servers if self.started else ():
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                click.echo(f"kiroku: listening on http://{host}:{port}")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_stop()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, minus raising the signal again afterwards: that would kill the
        process before the runtime drains and the journal closes. Exit code 0 says they did."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
