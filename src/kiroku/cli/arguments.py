"""Arguments checked before a command takes the data directory or suggests a URL.

A command that is refused because a server owns the directory tells the
operator what to POST instead; that advice must name a real projection and a
well-formed parked event, or it sends them to a 404. So names and references
are checked against the app first, and a bad one is a usage error that
changes nothing.
"""

from __future__ import annotations

import click

from kiroku.app import load_app
from kiroku.domain.numbers import ascii_digits, parse_int
from kiroku.errors import ConfigError, InputError, ProjectionNotFoundError

__all__ = ["check_parked_ref", "check_projection"]


def check_projection(app_ref: str, name: str) -> None:
    """A usage error unless the app has a projection called ``name``."""
    try:
        load_app(app_ref).projection(name)
    except (ConfigError, ProjectionNotFoundError) as e:
        raise click.UsageError(str(e)) from e


def check_parked_ref(app_ref: str, ref: str) -> tuple[str, int]:
    """``NAME:ID`` split and checked: the projection exists and the id is a number."""
    name, sep, ident = ref.rpartition(":")
    if not sep or not ascii_digits(ident) or not name:
        raise click.BadParameter(
            f"A parked event is named NAME:ID (see `kiroku parked`), got {ref!r}",
            param_hint="NAME:ID",
        )
    check_projection(app_ref, name)
    try:
        return name, parse_int(ident, "ID")
    except InputError as e:
        raise click.BadParameter(str(e), param_hint="NAME:ID") from e
