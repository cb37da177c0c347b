"""``kiroku journal copy SOURCE TARGET``: move an embedded journal onto PostgreSQL.

Every event keeps its position, stream, version, id, time and metadata, and
snapshots come along, so read models and checkpoints stay valid. The target
must be empty; the copy is one transaction. Afterwards both journals are read
back in full and compared by event count, head position and a SHA-256 over
every stored field; any difference exits non-zero.
"""

from __future__ import annotations

import asyncio
import os

import click

from kiroku.errors import KirokuError

__all__ = ["copy_journal", "register"]


def register(group: click.Group) -> None:
    group.add_command(journal)


@click.group()
def journal() -> None:
    """Whole-journal operations."""


@journal.command()
@click.argument("source")
@click.argument("target")
@click.option("--schema", default="kiroku", show_default=True, help="The target's schema.")
def copy(source: str, target: str, schema: str) -> None:
    """Copy SOURCE (sqlite:///PATH) into TARGET (postgresql://…), then verify it."""
    if not source.startswith("sqlite:///") or not os.path.isfile(source[10:]):
        raise click.BadParameter(f"{source!r}: expected sqlite:///PATH of an existing journal")
    if not target.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter(f"{target!r}: expected postgresql://…")
    try:
        lines, same = asyncio.run(copy_journal(source, target, schema))
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    for line in lines:
        click.echo(line)
    if not same:
        raise click.ClickException("the copy differs from the source")


async def copy_journal(source: str, target: str, schema: str = "kiroku") -> tuple[list[str], bool]:
    import psycopg  # the optional `postgres` extra: imported only when asked for

    from kiroku.journal.postgres import PostgreSQLJournal
    from kiroku.journal.postgres.errors import convert_error, describe_target
    from kiroku.journal.postgres.importer import copy_into, fingerprint
    from kiroku.journal.sqlite import SQLiteJournal

    where = describe_target(target)
    async with await SQLiteJournal.open(source[10:]) as src:
        dst = await PostgreSQLJournal.open(target, schema=schema)
        try:
            try:
                async with await psycopg.AsyncConnection.connect(target) as conn:
                    copied = await copy_into(src, conn, schema)
            except psycopg.Error as e:
                raise convert_error(e, "copying the journal", where) from e
            before, after = await fingerprint(src), await fingerprint(dst)
        finally:
            await dst.close()
    lines = [
        f"copied {copied} events into {where} schema {schema}",
        f"source: {before.events} events, head {before.head}, sha256 {before.sha256}",
        f"target: {after.events} events, head {after.head}, sha256 {after.sha256}",
    ]
    return lines, before == after
