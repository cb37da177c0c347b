"""``kiroku serve``'s options that say which roles run and where their engines are.

Each is a URL or a list, also read from ``KIROKU_*`` and the ``[serve]`` table
(see docs/operating.md); ``kiroku.roles`` turns them into a ``RoleSpec``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

__all__ = ["role_options"]

F = TypeVar("F", bound=Callable[..., object])

_OPTIONS = [
    click.option(
        "--role", default="all", show_default=True, envvar="KIROKU_ROLE",
        help="Roles of this process: write, relay, projector, read or all (joined by commas).",
    ),
    click.option(
        "--journal", "journal_url", default=None, envvar="KIROKU_JOURNAL",
        help="sqlite:///PATH or postgresql://… (default: sqlite:///DATA/journal.db).",
    ),
    click.option(
        "--bus", "bus_url", default=None, envvar="KIROKU_BUS",
        help="memory or nats://HOST:PORT (default: none, projectors follow the journal).",
    ),
    click.option(
        "--read-store", "read_store", default=None, envvar="KIROKU_READ_STORE",
        help="sqlite:///DIR (read models and users) or postgresql://… (read models)"
        " (default: sqlite:///DATA).",
    ),
    click.option(
        "--partitions", default=None, envvar="KIROKU_PARTITIONS",
        help="A projector's share of each projection's bus partitions, e.g. 0-7: several"
        " projectors split them (needs a NATS bus and PostgreSQL read stores).",
    ),
]  # fmt: skip


def role_options(command: F) -> F:
    """Add the role options to ``command``, in the order ``--help`` lists them."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command
