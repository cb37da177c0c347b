"""One process's share of the system: the roles it runs, composed from one codebase.

``open_roles`` opens the journal, the bus and the read stores the ``RoleSpec``
names (a clear ``StartupError`` when one cannot be reached) and builds the same
``ChatNode`` as the embedded server; ``start`` then runs only what the roles
ask for:

- ``write``: the runtime (Write API) and the app's consumers (process managers);
- ``projector``: the projection runners, fed by the bus when there is one (a
  durable consumer per projection, dead letters parked), else by the journal;
  each committed batch is pushed to read processes (``CommitSender``);
- ``read``: the Read API, live streams and web page; without the projector in
  this process it follows the projector's commits by push (``CommitReceiver``):
  re-reads the checkpoint, wakes ``min_position`` waiters and the live streams;
- ``relay``: journal -> bus, one active at a time (lease), standbys wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from kiroku.api.user_store import is_postgres_url
from kiroku.app import App
from kiroku.apps.chat.http_ops_tasks import OpsTasks
from kiroku.apps.chat.node import ChatNode, RuntimeOptions, open_node
from kiroku.apps.chat.ops import LocalOperations
from kiroku.apps.chat.ops_record import TaskRecordFile
from kiroku.bus.protocol import Bus
from kiroku.bus.relay import Relay
from kiroku.journal.protocol import Journal
from kiroku.projections.model import BatchCommitted
from kiroku.projections.postgres import PostgresReadStores
from kiroku.roles.beat_stores import beat_store_for
from kiroku.roles.commits import CommitReceiver, CommitSender
from kiroku.roles.control import ControlServer
from kiroku.roles.heartbeat import Heartbeat
from kiroku.roles.lanes import feed_from_bus
from kiroku.roles.pg_commits import PgCommitReceiver, PgCommitSender
from kiroku.roles.spec import RoleSpec, bus_from_url, journal_from_url

if TYPE_CHECKING:
    from kiroku.api.pg_users import PostgreSQLTokenStore

__all__ = ["RoleNode", "open_roles"]

log = logging.getLogger("kiroku.roles")


class RoleNode:
    def __init__(
        self,
        spec: RoleSpec,
        node: ChatNode,
        bus: Bus | None,
        users: PostgreSQLTokenStore | None = None,
    ) -> None:
        self.spec = spec
        self.roles = spec.roles
        self.node = node
        self.bus = bus
        self.users = users
        self.relay: Relay | None = None
        self.sender: CommitSender | None = None
        self.receiver: CommitReceiver | None = None
        self.control: ControlServer | None = None
        self.tasks: OpsTasks | None = None
        self.pg_sender: PgCommitSender | None = None
        self.pg_receiver: PgCommitReceiver | None = None
        self._telling: set[asyncio.Future[None]] = set()
        self.heartbeat: Heartbeat | None = None

    @property
    def serves_http(self) -> bool:
        return bool({"write", "read"} & self.roles)

    async def start(self) -> None:
        host = self.node.read.host
        if "projector" in self.roles:
            if self.bus is not None:
                feed_from_bus(host, self.bus, self.spec.lane_partitions())
            if self.spec.read_on_postgres:  # read nodes may be anywhere: NOTIFY
                self.pg_sender = PgCommitSender(self.spec.read_store)
                self.pg_sender.start()
                host.listeners.append(self.pg_sender.send)
            elif not self.spec.embedded:
                self.sender = CommitSender(self.spec.read_dir)
                host.listeners.append(self.sender.send)
            await self.node.start()
        elif "read" in self.roles:
            for runner in host.runners.values():
                runner.reload()
            self.node.read.hub.start()  # live streams, fed by the projector's commit notes
            if self.spec.read_on_postgres:
                self.pg_receiver = PgCommitReceiver(self.spec.read_store, host, self.observed)
                self.pg_receiver.start()
            else:
                self.receiver = await CommitReceiver.open(self.spec.read_dir, self.observed)
        if "relay" in self.roles:
            assert self.bus is not None  # RoleSpec.check
            self.relay = Relay(self.node.write.journal, self.bus)
            await self.relay.start()
        store = beat_store_for(self.spec.journal, self.bus, self.spec.read_dir)
        self.heartbeat = Heartbeat(store, self.roles, self.collect)
        self.heartbeat.start()

    async def collect(self) -> tuple[dict[str, int], bool | None, dict[str, str]]:
        """What this process's heartbeat says: its positions, the relay's state, readiness."""
        positions: dict[str, int] = {}
        with contextlib.suppress(Exception):  # unreachable: ``ready`` says why
            positions["journal"] = await self.node.write.journal.head_position()
        active = None
        if self.relay is not None:
            status = self.relay.status()
            positions["relay"], active = status.position, status.active
        if {"projector", "read"} & self.roles:
            for name, runner in self.node.read.host.runners.items():
                positions[f"projection:{name}"] = runner.position
        return positions, active, await self.ready()

    async def take_operations(self, operations: LocalOperations) -> None:
        """A process running the projector runs the operations page's actions, so it
        keeps their record in its read-store directory and takes up the tasks that
        were running (``LocalOperations.resume``); a process without it never does,
        even one forwarding the actions to a projector (it would record, or run
        again, what runs elsewhere).

        A projector without HTTP takes the actions from the HTTP processes on its
        read stores (``control``); after a replay or rebuild it sends a note, so
        they follow a swap even when no new batch follows it."""
        if "projector" not in self.roles:
            return
        self.tasks = operations.tasks
        if not self.spec.embedded:  # before any task runs: a resumed one is told too
            self.tasks.on_done.append(self._task_done)
        await operations.resume(TaskRecordFile(self.spec.read_dir))
        if not self.spec.embedded:
            self.control = await ControlServer.open(self.spec.read_dir, operations)

    def _task_done(self, name: str) -> None:
        if self.sender is None:
            return
        runner = self.node.read.host.runner(name)
        position = runner.position
        self.sender.send(BatchCommitted(name, runner.batch, position, position, 0, ()))

    def reader_only(self) -> None:
        """Called after the HTTP app is built: a node without the projector never
        rebuilds (the projector process does; this one follows its swap)."""
        if "projector" not in self.roles:
            self.node.read.host.on_rebuild_needed = _ignore

    def observed(self, note: BatchCommitted) -> None:
        """Another process committed a batch: follow it, then tell listeners (SSE)."""
        host = self.node.read.host
        if note.projection not in host.projections:
            return
        runner = host.runner(note.projection)
        if note.applied:  # a batch: the checkpoint moved to the note's (no query at all)
            runner.follow_checkpoint(note.last_position, note.batch)
        else:  # a replay or rebuild ended (or a batch of nothing): look at everything
            generation = host.stores.generation(note.projection)
            if runner.store.location != host.stores.location(note.projection, generation):
                fresh = host.make_runner(note.projection, generation)
                runner.store.close()  # the projector rebuilt and swapped: serve the new one
                runner = fresh
            runner.reload()
            host.install(note.projection, runner)  # read-your-writes waiters look again
        for listener in list(host.listeners):
            result = listener(note)
            if result is not None:
                task = asyncio.ensure_future(result)
                self._telling.add(task)
                task.add_done_callback(self._telling.discard)

    @contextlib.asynccontextmanager
    async def consumers(self) -> AsyncIterator[None]:
        """The app's consumers (process managers) run beside the write side."""
        if "write" not in self.roles:
            yield
            return
        runtime = self.node.write.runtime
        app, journal = self.node.app, self.node.write.journal
        async with app.run_consumers(journal, runtime, self.spec.read_dir, codec=runtime.codec):
            yield

    async def ready(self) -> dict[str, str]:
        """Per role: "ok" or why not (``/readyz``)."""
        out: dict[str, str] = {}
        journal = self.node.write.journal
        try:
            await journal.head_position()
            journal_ok = "ok"
        except Exception as e:
            journal_ok = f"journal unreachable: {e}"
        for role in sorted(self.roles):
            out[role] = journal_ok
        if "projector" in self.roles:
            unready = await self.node.read.host.unready()
            why = "; ".join(f"{name}: {reason}" for name, reason in sorted(unready.items()))
            out["projector"] = why or journal_ok
        if self.relay is not None:
            status = self.relay.status()
            out["relay"] = "ok" if status.active or status.error is None else status.error
        unusable = self.users.unreadable if self.users is not None else None
        if unusable is not None:  # these roles answer every caller 503 meanwhile
            out.update(dict.fromkeys({"write", "read"} & self.roles, unusable))
        return out

    async def close(self) -> None:
        if self.heartbeat is not None:
            await self.heartbeat.stop()
        if self.control is not None:
            await self.control.close()
        if self.tasks is not None:  # cancelled, not ended: the record keeps them running
            await self.tasks.close()
        if self.relay is not None:
            await self.relay.stop()
        if self.receiver is not None:
            self.receiver.close()
        if self.pg_receiver is not None:
            await self.pg_receiver.close()
        await self.node.close()
        if self.sender is not None:
            self.sender.close()
        if self.pg_sender is not None:
            await self.pg_sender.close()
        if self.bus is not None:
            await self.bus.close()
        if self.users is not None:
            await self.users.close()


def _ignore(name: str) -> None:
    log.info("%s calls for a rebuild: the projector process runs it", name)


async def open_roles(spec: RoleSpec, app: App, options: RuntimeOptions) -> RoleNode:
    spec.check()
    journal = await journal_from_url(spec.journal, app.name)
    try:
        bus = await bus_from_url(spec.bus)
    except BaseException:
        await journal.close()
        raise

    async def given(_: Path) -> Journal:
        return journal

    spec.read_dir.mkdir(parents=True, exist_ok=True)
    users = None
    try:
        if is_postgres_url(spec.journal) and {"write", "read"} & spec.roles:
            # every node serving HTTP checks tokens in the shared database
            from kiroku.api.pg_users import PostgreSQLTokenStore  # psycopg: an optional extra

            users = await PostgreSQLTokenStore.open(spec.journal)
        catalog = PostgresReadStores(spec.read_store) if spec.read_on_postgres else None
        node = await open_node(spec.read_dir, app, given, options, users, catalog=catalog)
    except BaseException:
        if users is not None:
            await users.close()
        if bus is not None:
            await bus.close()
        await journal.close()
        raise
    return RoleNode(spec, node, bus, users)
