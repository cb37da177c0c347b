"""``kiroku serve``: the chat system in one process on an embedded SQLite journal.

Shutdown on SIGINT/SIGTERM is graceful and ordered: live streams end first (so
the HTTP server is not left waiting on them), the server stops taking requests
and finishes those in flight, then the runtime drains its mailboxes, the
projection runners finish their batch, and the journal closes. Starting again on
the same directory resumes from the journal and the projections' checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from types import FrameType

import click
import uvicorn

from kiroku.api.logs import LogFormat, QueuedLogging
from kiroku.api.server import ServerOptions, guarded_protocol
from kiroku.api.server import run as run_loop
from kiroku.app import App, load_app
from kiroku.apps.chat.demo import ensure_demo
from kiroku.apps.chat.http_corrections import app_catalog
from kiroku.apps.chat.node import ChatNode, RuntimeOptions, open_node
from kiroku.apps.chat.server import build_app, is_the_chat
from kiroku.catalog import Catalog
from kiroku.cli.app import CliContext, pass_cli
from kiroku.cli.journal_app import claim_journal
from kiroku.cli.owner import owning
from kiroku.cli.server_options import server_options
from kiroku.errors import KirokuError
from kiroku.journal.protocol import Journal
from kiroku.journal.sqlite import SQLiteJournal

__all__ = ["register"]

log = logging.getLogger("kiroku.serve")
JOURNAL_FILE = "journal.db"
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(group: click.Group) -> None:
    group.add_command(serve)


def _sqlite_for(app: App) -> Callable[[Path], Awaitable[Journal]]:
    """Opens the data directory's journal for ``app``, refusing one another app claimed."""

    async def open_journal(data_dir: Path) -> Journal:
        journal = await SQLiteJournal.open(data_dir / JOURNAL_FILE)
        try:
            await asyncio.to_thread(claim_journal, data_dir / JOURNAL_FILE, app.name)
        except BaseException:
            await journal.close()
            raise
        return journal

    return open_journal


class _Server(uvicorn.Server):
    """Ends the live streams as soon as a stop signal arrives."""

    def __init__(self, config: uvicorn.Config, node: ChatNode) -> None:
        super().__init__(config)
        self.node = node

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
        self.node.read.hub.close()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Like uvicorn's, minus raising the signal again afterwards: that would kill the
        process before the runtime drains and the journal closes. Exit code 0 says they did."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def checked_catalog(app: App) -> Catalog:
    """The app's event catalog, checked before anything starts: a forbidden
    event -> command -> event cycle raises EventCycleError naming it (serve exits 1);
    missing links are logged as warnings and do not stop the server."""
    catalog = app_catalog(app)
    catalog.check()
    for warning in catalog.warnings:
        log.warning("catalog: %s", warning)
    return catalog


async def _serve(
    data: Path,
    host: str,
    port: int,
    demo: bool,
    app_ref: str,
    level: str,
    options: RuntimeOptions,
    limits: ServerOptions,
) -> None:
    chat = load_app(app_ref)
    catalog = checked_catalog(chat)
    node = await open_node(data, chat, _sqlite_for(chat), options)
    app = build_app(node, start_node=False, catalog=catalog, limits=limits)
    if demo and not is_the_chat(node):
        await node.close()
        raise click.UsageError(f"--demo seeds the chat's rooms; the app {chat.name!r} has none")
    app.state.demo = demo
    await node.start()
    try:
        if demo:
            for row in await ensure_demo(node):
                admin = " (admin)" if row["admin"] else ""
                click.echo(f"demo user {row['name']}{admin}: {row['token']}")
        config = uvicorn.Config(
            app, host=host, port=port, log_level=level, access_log=False, log_config=None,
            timeout_graceful_shutdown=10, lifespan="on", http=guarded_protocol(limits),
            timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # a float works
        )  # fmt: skip
        server = _Server(config, node)
        runtime = node.write.runtime
        async with chat.run_consumers(node.write.journal, runtime, data, codec=runtime.codec):
            await server.serve()
        if not server.started:
            raise click.ClickException(f"Could not start serving on {host}:{port} (see above)")
    finally:
        await node.close()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="KIROKU_HOST")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), envvar="KIROKU_PORT"
)
@click.option("--demo", is_flag=True, help="Create demo users and rooms; print their tokens.")
@click.option(
    "--app", "app_ref", default="kiroku.apps.chat:app", show_default=True, envvar="KIROKU_APP"
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.option(
    "--log-format",
    default="text",
    show_default=True,
    type=click.Choice(["text", "json"]),
    envvar="KIROKU_LOG_FORMAT",
    help="json: one object per line; text: one escaped line per record.",
)
@click.option(
    "--snapshot-every",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Snapshot an aggregate every N events (0: never).",
)
@click.option(
    "--max-batch",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Commands one aggregate may append together when they queue up.",
)
@click.option(
    "--mailbox-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Commands waiting per aggregate before new ones are refused (503).",
)
@click.option(
    "--max-live",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Aggregates kept in memory at most.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=300.0,
    show_default=True,
    help="Seconds an idle aggregate stays in memory.",
)
@server_options
@pass_cli
def serve(
    cli: CliContext,
    host: str,
    port: int,
    demo: bool,
    app_ref: str,
    log_level: str,
    log_format: LogFormat,
    snapshot_every: int,
    max_batch: int,
    mailbox_size: int,
    max_live: int,
    idle_timeout: float,
    limits: ServerOptions,
) -> None:
    """Run the chat system: HTTP API, web UI, runtime and projections, in one process."""
    options = RuntimeOptions(
        snapshot_every=snapshot_every or None,
        max_batch=max_batch,
        mailbox_size=mailbox_size,
        max_live=max_live,
        idle_timeout=idle_timeout,
    )
    cli.data.mkdir(parents=True, exist_ok=True)
    try:
        with QueuedLogging(log_level, log_format), owning(cli.data, "kiroku serve"):
            click.echo(f"kiroku: serving {cli.data.resolve()}")
            run_loop(_serve(cli.data, host, port, demo, app_ref, log_level, options, limits))
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
