"""Every process says, every :data:`INTERVAL` seconds, that it lives and where it is.

A beat names the process (node id, roles, host, pid, start), its positions (the
journal head it sees, the relay's checkpoint, each projection's checkpoint) and
whether each role is ready. It goes where the deployment already keeps shared
state (``beat_stores``): a table in the PostgreSQL journal's database, a NATS
KV bucket when the bus is NATS, else files in the data directory. ``kiroku
status`` reads them: a beat older than :data:`DEAD_AFTER` intervals means the
process is gone (killed, hung, cut off). A process stopping gracefully removes
its beat, so stopped is not mistaken for dead.

Beating never stops a role: a store that cannot be written is logged once and
tried again on the next beat (the silence is what status reports).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

import msgspec

from kiroku.domain.closing import cancelled

__all__ = [
    "DEAD_AFTER",
    "INTERVAL",
    "Beat",
    "BeatStore",
    "Heartbeat",
    "Seen",
    "node_id",
]

log = logging.getLogger("kiroku.heartbeat")

INTERVAL = 1.0
"""Seconds between beats (``KIROKU_HEARTBEAT_INTERVAL``)."""
DEAD_AFTER = 5
"""A process whose last beat is this many intervals old is reported dead."""


class Beat(msgspec.Struct, frozen=True):
    node: str
    roles: list[str]
    host: str
    pid: int
    started: str
    beat_at: float
    """The writer's clock (seconds since the epoch); stores with a clock of their own
    (PostgreSQL) measure the age on theirs instead."""
    interval: float
    positions: dict[str, int] = {}
    """``journal``: the head this process sees; ``relay``: the relay's checkpoint;
    ``projection:NAME``: each read model's checkpoint."""
    relay_active: bool | None = None
    ready: dict[str, str] = {}
    """Per role: "ok" or why not, as ``/readyz`` says."""


class Seen(msgspec.Struct, frozen=True):
    """A beat as read back, with its age measured by the store's clock."""

    beat: Beat
    age: float

    @property
    def dead(self) -> bool:
        return self.age > DEAD_AFTER * self.beat.interval


class BeatStore(Protocol):
    async def publish(self, beat: Beat) -> None: ...

    async def forget(self, node: str) -> None:
        """A graceful stop: the node is gone, not dead."""
        ...

    async def read(self) -> list[Seen]: ...

    async def close(self) -> None: ...


def node_id(roles: frozenset[str]) -> str:
    """``KIROKU_NODE_ID``, else host, roles and pid: unique per process."""
    given = os.environ.get("KIROKU_NODE_ID")
    if given:
        return given
    return f"{socket.gethostname()}/{'+'.join(sorted(roles))}/{os.getpid()}"


def interval() -> float:
    raw = os.environ.get("KIROKU_HEARTBEAT_INTERVAL", "")
    try:
        value = float(raw) if raw else INTERVAL
    except ValueError:
        value = INTERVAL
    return min(max(value, 0.05), 60.0)


class Heartbeat:
    """Publishes ``collect()``'s positions and readiness on a beat, until stopped."""

    def __init__(
        self,
        store: BeatStore,
        roles: frozenset[str],
        collect: Callable[[], Awaitable[tuple[dict[str, int], bool | None, dict[str, str]]]],
        *,
        every: float | None = None,
    ) -> None:
        self.store, self.roles, self.collect = store, roles, collect
        self.node = node_id(roles)
        self.every = every if every is not None else interval()
        self.started = datetime.now(UTC).isoformat()
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kiroku-heartbeat")

    async def beat(self) -> Beat:
        positions, relay_active, ready = await self.collect()
        beat = Beat(
            self.node, sorted(self.roles), socket.gethostname(), os.getpid(), self.started,
            time.time(), self.every, positions, relay_active, ready,
        )  # fmt: skip
        await self.store.publish(beat)
        return beat

    async def _run(self) -> None:
        while True:
            try:
                await self.beat()
                if self._failing:
                    log.info("heartbeat published again")
                self._failing = False
            except Exception as e:  # any store error: the next beat tries again
                if not self._failing:
                    log.warning("heartbeat not published: %s", e)
                self._failing = True
            await asyncio.sleep(self.every)

    async def stop(self) -> None:
        await cancelled(self._task)
        try:
            await self.store.forget(self.node)
        except Exception as e:
            log.warning("heartbeat not withdrawn: %s", e)
        await self.store.close()
