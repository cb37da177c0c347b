"""The projector as a child process of ``kiroku serve``, supervised.

The default embedded server runs its projections beside the HTTP process, on
the same SQLite files: the child is ``kiroku serve --role projector`` on the
same data directory, woken by the journal's cross-process wake-ups, pushing
its commits back (``commits``) and taking the operations page's actions over
the command channel (``control``). The parent starts it with the server and
waits until it answers, restarts it with backoff if it dies, and stops it on
shutdown. The child reads its standard input, a pipe from the parent: when the
parent dies, even by SIGKILL, the pipe closes and the child stops, so no
orphan holds the data directory.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Iterable, Sequence

from kiroku.domain.closing import cancelled
from kiroku.roles.control import ControlClient, ProjectorUnavailableError

__all__ = ["ProjectorProcess", "until_parent_exits", "until_stopped"]

log = logging.getLogger("kiroku.roles")
RESTART_FIRST = 0.5  # seconds before restarting a projector that died
RESTART_MAX = 10.0  # the backoff doubles up to this
STEADY = 30.0  # a child that ran this long restarts after the first delay again
STOP_TIMEOUT = 20.0  # seconds a stopping child may take before it is killed


class ProjectorProcess:
    def __init__(self, argv: Sequence[str], client: ControlClient) -> None:
        self.argv = list(argv)
        self.client = client
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.last_exit: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._started = asyncio.Event()

    async def start(self, ready_timeout: float = 60.0) -> None:
        """Start the child and wait until it answers on the command channel."""
        self._task = asyncio.create_task(self._supervise(), name="projector process")
        await self._started.wait()
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                await self.client.call("ping")
                return
            except ProjectorUnavailableError:
                if time.monotonic() > deadline or self._task.done():
                    raise
            await asyncio.sleep(0.05)  # a bounded wait for start-up, not a steady poll

    async def _supervise(self) -> None:
        delay = RESTART_FIRST
        while not self._stopping:
            began = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *self.argv, stdin=asyncio.subprocess.PIPE, env=_child_env()
            )
            self._started.set()
            code = await self.process.wait()
            if self._stopping:
                return
            self.last_exit, self.restarts = code, self.restarts + 1
            if time.monotonic() - began > STEADY:
                delay = RESTART_FIRST
            log.error("the projector process exited with %s; restarting in %.1fs", code, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESTART_MAX)

    def stopping(self) -> None:
        """The server received a stop signal: a child that exits from now on is not
        restarted. A terminal's Ctrl-C and systemd's stop signal the whole process
        group, so the child stops on the same signal, and its exit is no crash."""
        self._stopping = True

    async def stop(self) -> None:
        self.stopping()
        process = self.process
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                log.error("the projector process did not stop in %.0fs: killed", STOP_TIMEOUT)
                process.kill()
                await process.wait()
        await cancelled(self._task)


async def until_parent_exits() -> None:
    """Return when standard input (the parent's pipe) reaches its end."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while await reader.read(4096):
        pass


async def until_stopped(signals: Iterable[signal.Signals], supervised: bool = False) -> None:
    """A process without HTTP (relay, projector) runs until one of ``signals``, or,
    ``supervised``, until its parent's pipe on standard input closes."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = list(signals)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    orphaned = asyncio.ensure_future(until_parent_exits()) if supervised else None
    if orphaned is not None:
        orphaned.add_done_callback(lambda _: stop.set())
    try:
        await stop.wait()
    finally:
        if orphaned is not None:
            orphaned.cancel()
        for sig in signals:
            loop.remove_signal_handler(sig)


def _child_env() -> dict[str, str]:
    """The child's environment: an operator's ``KIROKU_NODE_ID`` names the server, so
    the child beats as ``<id>/projector`` rather than overwriting the server's beat."""
    env = dict(os.environ)
    if env.get("KIROKU_NODE_ID"):
        env["KIROKU_NODE_ID"] += "/projector"
    return env
