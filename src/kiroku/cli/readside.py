"""What the read-side commands share: ``--app``, the data directory, error reporting.

The data directory holds ``journal.db`` (the SQLite journal) and the read stores
(``read.db`` plus ``read/``). Every failure kiroku raises on purpose becomes one
clear line and a non-zero exit; nothing is written when the input is bad.
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
from kiroku.schema.codec import Codec

__all__ = ["app_option", "open_host", "open_journal", "parse_ref", "parse_start", "run"]

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


@contextlib.asynccontextmanager
async def open_host(data: Path, app_ref: str) -> AsyncIterator[ProjectionHost]:
    """The app's projections over the data directory's journal and read stores (not running)."""
    app: App = load_app(app_ref)
    journal = await open_journal(data)
    try:
        host = ProjectionHost(
            journal,
            list(app.projections),
            data,
            codec=Codec(app.registry),
            policies=app.policies,
            on_rebuild_needed=_left_to_the_server,
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
