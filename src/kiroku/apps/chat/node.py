"""One process running every role of the chat system, each kept behind its own object.

``WriteSide`` (runtime over the journal), ``ReadSide`` (projection host, read
views, live hub) and the users' tokens are separate so that a later split into
write, projector and read processes moves objects, not code. The HTTP layer
only ever talks to these, never to each other's internals.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kiroku import App, Codec, Journal, ProjectionHost, Runtime
from kiroku.api.auth import TokenStore
from kiroku.api.fanout import DEFAULT_MAX_PENDING
from kiroku.api.params import parse_int
from kiroku.api.user_store import UserStore
from kiroku.errors import ConfigError, InputError
from kiroku.projections import StoreCatalog

if TYPE_CHECKING:
    from kiroku.apps.chat.live import LiveHub

__all__ = [
    "ChatNode",
    "JournalFactory",
    "ReadSide",
    "RuntimeOptions",
    "WriteSide",
    "open_node",
]

log = logging.getLogger("kiroku.chat")

JournalFactory = Callable[[Path], Awaitable[Journal]]


@dataclass(frozen=True, slots=True)
class WriteSide:
    journal: Journal
    runtime: Runtime


@dataclass(frozen=True, slots=True)
class ReadSide:
    journal: Journal
    host: ProjectionHost
    hub: LiveHub
    """Every live stream, fed by committed-batch notes: push, not poll (see ``live``)."""
    codec: Codec


@dataclass(frozen=True, slots=True)
class ChatNode:
    data_dir: Path
    app: App
    write: WriteSide
    read: ReadSide
    users: UserStore

    async def start(self) -> None:
        self.read.hub.start()
        await self.read.host.start()

    async def close(self) -> None:
        """Graceful stop: end live streams, drain mailboxes, stop runners, close the journal."""
        self.read.hub.close()
        await self.read.hub.wait_closed()
        await self.write.runtime.close()
        await self.read.host.close()
        await self.write.journal.close()
        log.info("closed %s", self.data_dir)


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """The runtime settings an operator may tune (see docs/runtime.md)."""

    snapshot_every: int | None = 100
    max_batch: int = 64
    mailbox_size: int = 1000
    max_live: int = 10_000
    idle_timeout: float | None = 300.0


def _max_pending() -> int:
    """``KIROKU_SSE_MAX_PENDING``: bytes a live stream may fall behind before it must resume."""
    raw = os.environ.get("KIROKU_SSE_MAX_PENDING")
    if raw is None:
        return DEFAULT_MAX_PENDING
    try:
        return parse_int(raw, "KIROKU_SSE_MAX_PENDING", low=1024, high=1 << 30)
    except InputError as e:
        raise ConfigError(str(e)) from e


async def open_node(
    data_dir: Path,
    app: App,
    journal_factory: JournalFactory,
    options: RuntimeOptions = RuntimeOptions(),
    users: UserStore | None = None,
    catalog: StoreCatalog | None = None,
) -> ChatNode:
    """``users``: where tokens are checked (default: ``users.json`` in ``data_dir``)."""
    journal = await journal_factory(data_dir)
    codec = Codec(app.registry)
    runtime = Runtime(
        journal,
        app.deciders,
        codec=codec,
        snapshot_every=options.snapshot_every,
        max_batch=options.max_batch,
        mailbox_size=options.mailbox_size,
        max_live=options.max_live,
        idle_timeout=options.idle_timeout,
    )
    host = ProjectionHost(
        journal,
        list(app.projections),
        data_dir,
        codec=codec,
        policies=app.policies,
        catalog=catalog,
    )
    # imported here: the live hub reads through the Read API's helpers, which import this module
    from kiroku.apps.chat.live import LiveHub

    users = users if users is not None else TokenStore(data_dir)
    hub = LiveHub(host, users, max_pending=_max_pending())
    read = ReadSide(journal, host, hub, codec)
    host.listeners.append(read.hub.on_batch)
    return ChatNode(data_dir, app, WriteSide(journal, runtime), read, users)
