"""``kiroku db migrate``: create or upgrade the journal's schema.

For PostgreSQL it applies the versioned migrations the database lacks (each
in its own transaction, under an advisory lock) and says which; running it
again changes nothing. A SQLite journal creates its own tables on open, so
there the command only opens the file. A database it cannot reach is named,
with host and port, and the exit status is non-zero.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from kiroku.errors import KirokuError

__all__ = ["migrate_journal", "register"]


def register(group: click.Group) -> None:
    group.add_command(db)


@click.group()
def db() -> None:
    """The journal's database."""


@db.command()
@click.option(
    "--journal",
    "url",
    required=True,
    envvar="KIROKU_JOURNAL",
    help="postgresql://USER@HOST:PORT/DB or sqlite:///PATH (env KIROKU_JOURNAL).",
)
@click.option("--schema", default="kiroku", show_default=True, help="The PostgreSQL schema.")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for the server.")
def migrate(url: str, schema: str, timeout: float) -> None:
    """Create the journal's tables and functions, or upgrade them."""
    try:
        lines = asyncio.run(migrate_journal(url, schema, timeout))
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    for line in lines:
        click.echo(line)


async def migrate_journal(
    url: str, schema: str = "kiroku", connect_timeout: float = 5.0
) -> list[str]:
    """Migrate the journal at ``url``; return what to tell the operator."""
    if url.startswith("sqlite:///"):
        from kiroku.journal.sqlite import SQLiteJournal

        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        await (await SQLiteJournal.open(path)).close()
        return [f"SQLite journal {path} is ready"]
    if not url.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter(
            f"{url!r}: expected postgresql://… or sqlite:///PATH", param_hint="--journal"
        )
    import psycopg  # the optional `postgres` extra: imported only when asked for

    from kiroku.journal.postgres.errors import convert_error, describe_target, unavailable
    from kiroku.journal.postgres.migrate import MIGRATIONS, migrate

    target = describe_target(url)
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=max(1, round(connect_timeout))
        )
    except psycopg.Error as e:
        raise unavailable(e, target) from e
    try:
        async with conn:
            applied = await migrate(conn, schema)
    except psycopg.Error as e:
        raise convert_error(e, f"migrating schema {schema}", target) from e
    latest = MIGRATIONS[-1].version
    if not applied:
        return [f"{target} schema {schema}: up to date (version {latest})"]
    return [f"{target} schema {schema}: applied {m.version}: {m.description}" for m in applied]
