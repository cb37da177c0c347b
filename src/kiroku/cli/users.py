"""``kiroku users``: issue and revoke API tokens, where the servers check them.

Without ``--journal`` (or with a SQLite one) the users live in the data
directory's ``users.json``; with ``--journal postgresql://…`` (also
``KIROKU_JOURNAL``, or ``journal`` in the TOML ``[users]`` table) they live in
that database, shared by every node serving it.

Works while servers run: a new token works as soon as they hear of it (at once
on one machine; on PostgreSQL when the commit's NOTIFY arrives, milliseconds),
and a removal ends the user's requests and live streams on every node: within a
quarter of a second on one machine, at the commit on PostgreSQL. A removed name
is never issued again (see docs/chat.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from kiroku.api.auth import TokenStore, UserRecord
from kiroku.api.user_store import is_postgres_url
from kiroku.cli.app import CliContext, pass_cli
from kiroku.errors import KirokuError

if TYPE_CHECKING:
    from kiroku.api.pg_users import PostgreSQLUsers

__all__ = ["register"]

_JOURNAL_HELP = "postgresql://… keeps users in that database (default: DATA/users.json)."


def register(group: click.Group) -> None:
    group.add_command(users)


class _Users:
    """The store ``kiroku users`` changes: the database's, or the data directory's file."""

    def __init__(self, cli: CliContext, journal: str | None) -> None:
        self.cli = cli
        self.journal = journal or click.get_current_context().meta.get("kiroku.users.journal")

    def add(self, name: str, admin: bool) -> str:
        if is_postgres_url(self.journal):
            return self._postgres().add(name, admin=admin)
        return TokenStore(self.cli.data).add(name, admin=admin)

    def remove(self, name: str) -> None:
        if is_postgres_url(self.journal):
            self._postgres().remove(name)
        else:
            TokenStore(self.cli.data).remove(name)

    def listed(self, removed: bool) -> list[UserRecord]:
        if is_postgres_url(self.journal):
            found = self._postgres().records()
            return [u for u in found if bool(u.removed_at) == removed]
        store = TokenStore(self.cli.data)
        return store.removed() if removed else store.users()

    def _postgres(self) -> PostgreSQLUsers:
        from kiroku.api.pg_users import PostgreSQLUsers  # psycopg: an optional extra

        assert self.journal is not None
        return PostgreSQLUsers(self.journal)


journal_option = click.option(
    "--journal", "journal", default=None, envvar="KIROKU_JOURNAL", help=_JOURNAL_HELP
)


@click.group()
@journal_option
@click.pass_context
def users(ctx: click.Context, journal: str | None) -> None:
    """Manage users and their API tokens."""
    ctx.meta["kiroku.users.journal"] = journal


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May use the operations endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print {name, admin, token} as JSON.")
@journal_option
@pass_cli
def add(cli: CliContext, name: str, admin: bool, as_json: bool, journal: str | None) -> None:
    """Create user NAME and print its token (shown only this once)."""
    try:
        token = _Users(cli, journal).add(name, admin)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps({"name": name, "admin": admin, "token": token}))
    else:
        click.echo(token)


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--removed", is_flag=True, help="List removed names (never reusable) instead.")
@journal_option
@pass_cli
def list_users(cli: CliContext, as_json: bool, removed: bool, journal: str | None) -> None:
    """List users (never their tokens, which are not stored)."""
    try:
        found = _Users(cli, journal).listed(removed)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        rows = [
            {"name": u.name, "admin": u.admin, "created_at": u.created_at}
            | ({"removed_at": u.removed_at} if removed else {})
            for u in found
        ]
        click.echo(json.dumps(rows))
        return
    for u in found:
        when = u.removed_at if removed else u.created_at
        click.echo(f"{u.name}\t{'admin' if u.admin else 'user'}\t{when}")


@users.command("remove")
@click.argument("name")
@journal_option
@pass_cli
def remove(cli: CliContext, name: str, journal: str | None) -> None:
    """Revoke NAME's token for good; the name stays taken. Their events stay in the journal."""
    try:
        _Users(cli, journal).remove(name)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"removed {name}")
