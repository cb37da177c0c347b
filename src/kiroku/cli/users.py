"""``kiroku users``: issue and revoke API tokens in the data directory.

Works while a server runs on the same directory: a new token works on its first
request, and a removal ends the user's requests and live streams within a
quarter of a second. A removed name is never issued again (see docs/chat.md).
"""

from __future__ import annotations

import json

import click

from kiroku.api.auth import TokenStore
from kiroku.cli.app import CliContext, pass_cli
from kiroku.errors import KirokuError

__all__ = ["register"]


def register(group: click.Group) -> None:
    group.add_command(users)


@click.group()
def users() -> None:
    """Manage users and their API tokens."""


@users.command("add")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May use the operations endpoints.")
@click.option("--json", "as_json", is_flag=True, help="Print {name, admin, token} as JSON.")
@pass_cli
def add(cli: CliContext, name: str, admin: bool, as_json: bool) -> None:
    """Create user NAME and print its token (shown only this once)."""
    try:
        token = TokenStore(cli.data).add(name, admin=admin)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        click.echo(json.dumps({"name": name, "admin": admin, "token": token}))
    else:
        click.echo(token)


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.option("--removed", is_flag=True, help="List removed names (never reusable) instead.")
@pass_cli
def list_users(cli: CliContext, as_json: bool, removed: bool) -> None:
    """List users (never their tokens, which are not stored)."""
    try:
        store = TokenStore(cli.data)
        found = store.removed() if removed else store.users()
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
@pass_cli
def remove(cli: CliContext, name: str) -> None:
    """Revoke NAME's token for good; the name stays taken. Their events stay in the journal."""
    try:
        TokenStore(cli.data).remove(name)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"removed {name}")
