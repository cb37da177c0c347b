"""``kiroku serve``: the chat system on an embedded SQLite journal, or one share
of it (``--role``) over a shared journal and bus (``kiroku.roles``).

Embedded, the projections run by default in a supervised child process on the
same files (``--projections process``, see ``roles.supervisor``): their CPU is
off the HTTP process's event loop. ``--projections inline`` keeps everything
in one process (tests, debugging, a machine with one core).

Shutdown on SIGINT/SIGTERM is graceful and ordered: live streams end first (so
the HTTP server is not left waiting on them), the server stops taking requests
and finishes those in flight, then the runtime drains its mailboxes, the
projection runners finish their batch, and the journal closes. Starting again on
the same directory resumes from the journal and the projections' checkpoints.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import click
import uvicorn

from kiroku.api.logs import LogFormat, QueuedLogging
from kiroku.api.server import ServerOptions, guarded_protocol
from kiroku.api.server import run as run_loop
from kiroku.app import App, load_app
from kiroku.apps.chat.demo import ensure_demo
from kiroku.apps.chat.http_corrections import app_catalog
from kiroku.apps.chat.node import RuntimeOptions
from kiroku.apps.chat.server import build_app, is_the_chat
from kiroku.catalog import Catalog
from kiroku.cli.app import CliContext, pass_cli
from kiroku.cli.owner import owning, projector_claim
from kiroku.cli.role_options import role_options
from kiroku.cli.server_options import server_options
from kiroku.cli.stopping import STOP_SIGNALS, StoppingServer
from kiroku.errors import ConfigError, KirokuError
from kiroku.roles import RoleSpec, heap, open_roles, parse_roles
from kiroku.roles.control import ControlClient, RemoteOperations
from kiroku.roles.http import install_readyz
from kiroku.roles.supervisor import ProjectorProcess, until_stopped

__all__ = ["register"]

log = logging.getLogger("kiroku.serve")
JOURNAL_FILE = "journal.db"


def register(group: click.Group) -> None:
    group.add_command(serve)


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
    spec: RoleSpec,
    host: str,
    port: int,
    demo: bool,
    app_ref: str,
    level: str,
    options: RuntimeOptions,
    limits: ServerOptions,
    child: list[str] | None = None,
    supervised: bool = False,
) -> None:
    """Serve ``spec``'s roles; with ``child``, the projector runs as that command."""
    chat = load_app(app_ref)
    catalog = checked_catalog(chat)
    roles = await open_roles(spec, chat, options)
    node = roles.node
    app = build_app(node, start_node=False, catalog=catalog, limits=limits)
    if demo and not is_the_chat(node):
        await roles.close()
        raise click.UsageError(f"--demo seeds the chat's rooms; the app {chat.name!r} has none")
    roles.reader_only()
    projector: ProjectorProcess | None = None
    local = app.state.operations  # this process's; run here only with the projector role
    if child is not None:  # the app's /readyz, with the projector's answer joined in
        client = ControlClient(spec.read_dir)
        app.state.operations = RemoteOperations(client, node.read.host)
        projector = ProjectorProcess(child, client)
    elif not spec.embedded:  # one process runs everything: the app's own /readyz says it all
        install_readyz(app, roles)
    app.state.demo = demo
    await roles.start()
    await roles.take_operations(local)
    try:
        if projector is not None:
            await projector.start()
        if demo and "write" in roles.roles:
            for row in await ensure_demo(node):
                admin = " (admin)" if row["admin"] else ""
                click.echo(f"demo user {row['name']}{admin}: {row['token']}")
        click.echo(f"kiroku: roles {', '.join(sorted(spec.roles))}")
        heap.settle()
        if not roles.serves_http:
            async with roles.consumers():
                await until_stopped(STOP_SIGNALS, supervised)
            return
        config = uvicorn.Config(
            app, host=host, port=port, log_level=level, access_log=False, log_config=None,
            timeout_graceful_shutdown=10, lifespan="on", http=guarded_protocol(limits),
            timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]  # a float works
            proxy_headers=False,  # X-Forwarded-For is anyone's to write: log the real peer
        )  # fmt: skip
        server = StoppingServer(config, _on_stop(node.read.hub.close, projector))
        async with roles.consumers():
            await server.serve()
        if not server.started:
            raise click.ClickException(f"Could not start serving on {host}:{port} (see above)")
    finally:
        if projector is not None:
            await projector.stop()
        await roles.close()


def _on_stop(
    close_streams: Callable[[], None], child: ProjectorProcess | None
) -> Callable[[], None]:
    """What a stop signal does at once: end the live streams, and tell the supervisor
    that the projector child, signalled too when the whole group is, is not to be
    restarted."""

    def on_stop() -> None:
        close_streams()
        if child is not None:
            child.stopping()

    return on_stop


def _child(data: Path, spec: RoleSpec, app: str, level: str, form: str) -> list[str]:
    """The command of the projector child: the same files, app and logging."""
    return [
        sys.executable, "-c", "from kiroku.cli import main; main()", "--data", str(data),
        "serve", "--role", "projector", "--journal", spec.journal, "--read-store",
        spec.read_store, "--app", app, "--log-level", level, "--log-format", form, "--supervised",
    ]  # fmt: skip


def role_spec(
    data: Path,
    role: str,
    journal: str | None,
    bus: str | None,
    read_store: str | None,
    partitions: str | None = None,
) -> RoleSpec:
    """The roles and URLs, defaulting to the embedded layout under the data directory."""
    try:
        return RoleSpec(
            roles=parse_roles(role, bus or None),
            journal=journal or f"sqlite:///{data / JOURNAL_FILE}",
            bus=bus or None,
            read_store=read_store or f"sqlite:///{data}",
            data=data,
            partitions=partitions or None,
        )
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--role") from e


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, envvar="KIROKU_HOST")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), envvar="KIROKU_PORT"
)
@click.option("--demo", is_flag=True, help="Create demo users and rooms; print their tokens.")
@role_options
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
@click.option(
    "--projections",
    type=click.Choice(["process", "inline"]),
    default="process",
    show_default=True,
    envvar="KIROKU_PROJECTIONS",
    help="Embedded: run the projections in a supervised child process, or inline in this one.",
)
@click.option("--supervised", is_flag=True, hidden=True, help="Started by a parent server.")
@server_options
@pass_cli
def serve(
    cli: CliContext,
    host: str,
    port: int,
    demo: bool,
    role: str,
    journal_url: str | None,
    bus_url: str | None,
    read_store: str | None,
    partitions: str | None,
    app_ref: str,
    log_level: str,
    log_format: LogFormat,
    snapshot_every: int,
    max_batch: int,
    mailbox_size: int,
    max_live: int,
    idle_timeout: float,
    projections: str,
    supervised: bool,
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
    spec = role_spec(cli.data, role, journal_url, bus_url, read_store, partitions)
    cli.data.mkdir(parents=True, exist_ok=True)
    try:
        spec.check()
        # The process that writes the read stores owns their directory (its child with it).
        mine = "projector" in spec.roles and not supervised
        owner = owning(spec.read_dir, "kiroku serve") if mine else None
        child, run = None, spec
        if spec.embedded and projections == "process":
            run = RoleSpec(frozenset({"write", "read"}), spec.journal, None, spec.read_store)
            child = _child(cli.data, spec, app_ref, log_level, log_format)
        names = [p.name for p in load_app(app_ref).projections]
        with (
            QueuedLogging(log_level, log_format),
            owner or contextlib.nullcontext(),
            projector_claim(run, names),
        ):
            click.echo(f"kiroku: serving {spec.read_dir.resolve()}")
            served = _serve(run, host, port, demo, app_ref, log_level, options, limits, child,
                            supervised)  # fmt: skip
            run_loop(served)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
