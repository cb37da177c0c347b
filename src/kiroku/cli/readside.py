"""What the read-side commands share: ``--app``, where the stores are, error reporting.

By default the data directory holds ``journal.db`` (the SQLite journal) and the
read stores (``read.db`` plus ``read/``); ``--journal`` and ``--read-store``
(``KIROKU_JOURNAL``, ``KIROKU_READ_STORE``, or the command's TOML table) name
others, as for ``kiroku serve``: a PostgreSQL journal, read stores in PostgreSQL.
Every failure kiroku raises on purpose becomes one clear line and a non-zero
exit; nothing is written when the input is bad.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click

from kiroku.app import DEFAULT_APP, App, load_app
from kiroku.domain.numbers import ascii_digits, parse_int
from kiroku.errors import ConfigError, InputError, KirokuError
from kiroku.journal.protocol import Journal
from kiroku.projections.host import ProjectionHost
from kiroku.projections.postgres import PostgresReadStores
from kiroku.roles.spec import RoleSpec, StartupError, journal_from_url, safe_url, sqlite_path
from kiroku.schema.codec import Codec

__all__ = [
    "app_option",
    "open_host",
    "open_journal",
    "parse_ref",
    "parse_start",
    "run",
    "stores_option",
    "stores_spec",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


def app_option(fn: F) -> F:
    return click.option(
        "--app",
        "app_ref",
        envvar="KIROKU_APP",
        default=DEFAULT_APP,
        show_default=True,
        metavar="MODULE:ATTR",
        help="The application bundle whose projections to use.",
    )(fn)


def stores_option(fn: F) -> F:
    """``--journal`` and ``--read-store``, spelt and read as ``kiroku serve`` reads them."""
    fn = click.option(
        "--read-store", "read_store", default=None, envvar="KIROKU_READ_STORE",
        help="sqlite:///DIR or postgresql://… (default: sqlite:///DATA).",
    )(fn)  # fmt: skip
    return click.option(
        "--journal", "journal_url", default=None, envvar="KIROKU_JOURNAL",
        help="sqlite:///PATH or postgresql://… (default: sqlite:///DATA/journal.db).",
    )(fn)  # fmt: skip


def stores_spec(data: Path, journal_url: str | None, read_store: str | None) -> RoleSpec:
    """Where the journal and the read stores are (no roles: a command runs none)."""
    spec = RoleSpec(
        roles=frozenset(),
        journal=journal_url or f"sqlite:///{data / 'journal.db'}",
        bus=None,
        read_store=read_store or f"sqlite:///{data}",
        data=data,
    )
    try:
        spec.check()
    except KirokuError as e:
        raise click.BadParameter(str(e)) from e
    return spec


def run(coro: Coroutine[object, object, T]) -> T:
    """Run a command's coroutine; kiroku errors become a message and exit status 1."""
    try:
        return asyncio.run(coro)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e


async def open_journal(data: Path) -> Journal:
    path = data / "journal.db"
    if not path.exists():
        raise ConfigError(f"No journal at {path}: is --data (KIROKU_DATA) right?")
    try:
        module = importlib.import_module("kiroku.journal.sqlite")
    except ImportError as e:
        raise ConfigError(f"The SQLite journal is not available: {e}") from e
    journal: Journal = await module.SQLiteJournal.open(path)
    return journal


async def _journal(spec: RoleSpec) -> Journal:
    if spec.journal.startswith("sqlite:///"):
        path = sqlite_path(spec.journal, "journal")
        if not path.exists():
            raise ConfigError(f"No journal at {path}: is --data (KIROKU_DATA) or --journal right?")
    return await journal_from_url(spec.journal)


async def _catalog(spec: RoleSpec) -> PostgresReadStores | None:
    if not spec.read_on_postgres:
        return None
    try:
        return await asyncio.to_thread(PostgresReadStores, spec.read_store)
    except KirokuError as e:
        where = safe_url(spec.read_store)
        raise StartupError(f"Cannot open the PostgreSQL read stores at {where}: {e}") from e


@contextlib.asynccontextmanager
async def open_host(where: RoleSpec | Path, app_ref: str) -> AsyncIterator[ProjectionHost]:
    """The app's projections over the journal and read stores ``where`` names, or
    those in a data directory (not running)."""
    spec = where if isinstance(where, RoleSpec) else stores_spec(where, None, None)
    app: App = load_app(app_ref)
    journal = await _journal(spec)
    try:
        catalog = await _catalog(spec)
        host = ProjectionHost(
            journal,
            list(app.projections),
            spec.read_dir,
            codec=Codec(app.registry),
            policies=app.policies,
            on_rebuild_needed=_left_to_the_server,
            catalog=catalog,
        )
        try:
            for name in host.names:
                await host.runner(name).open()
            yield host
        finally:
            await host.close()
    finally:
        await journal.close()


def _left_to_the_server(name: str) -> None:
    """A command never starts a background rebuild it would cancel on exit: a note
    stays in the store (``kiroku projections`` shows it) until a server, on its
    next start or at once if it is running, or ``kiroku rebuild NAME`` acts on it."""


def parse_start(text: str) -> int | datetime:
    """A position (``1200``) or an ISO time (``2024-05-01T12:00``; UTC if no offset)."""
    if ascii_digits(text):
        return parse_int(text, "--from")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"--from takes a position or an ISO time, got {text!r}") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def parse_ref(text: str) -> int | uuid.UUID:
    """An event by position (``42``) or by event id (a UUID)."""
    if ascii_digits(text):
        return parse_int(text, "position")
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"Expected a position or an event id (UUID), got {text!r}") from None
