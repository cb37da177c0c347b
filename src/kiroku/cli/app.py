"""The root ``kiroku`` group and options every command shares.

Settings come from, in order of precedence: flags, ``KIROKU_*`` environment
variables (``KIROKU_DATA``, and ``KIROKU_<COMMAND>_<OPTION>`` for any command's
option, e.g. ``KIROKU_SERVE_PORT``), a TOML file, and the built-in defaults.
The TOML file is ``--config FILE`` (``KIROKU_CONFIG``), else ``kiroku.toml`` in
the working directory when present; its top-level ``data`` key sets the data
directory and each table sets one command's options::

    data = "/var/lib/kiroku"

    [serve]
    host = "0.0.0.0"
    port = 8080

An unknown key is an error naming it (see ``config``). ``--data`` and
``--config`` may come before the command or anywhere after it:
``kiroku serve --data X`` is ``kiroku --data X serve``.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click

from kiroku.cli.config import default_map
from kiroku.errors import ConfigError

__all__ = ["CliContext", "main", "pass_cli"]

# Modules that add commands to ``main``; each defines ``register(group)``.
COMMAND_MODULES = (
    "kiroku.cli.demo",
    "kiroku.cli.serve",
    "kiroku.cli.users",
    "kiroku.cli.schema",
    "kiroku.cli.projections",
    "kiroku.cli.events",
    "kiroku.cli.catalog",
    "kiroku.cli.retract",
    "kiroku.cli.db",
    "kiroku.cli.journal_copy",
    "kiroku.cli.status",
)


@dataclass
class CliContext:
    data: Path


pass_cli = click.make_pass_decorator(CliContext)


DEFAULT_CONFIG = Path("kiroku.toml")


def read_config(path: Path | None) -> dict[str, object]:
    """The TOML settings, or {} when no file is named and none is present."""
    if path is None:
        if not DEFAULT_CONFIG.is_file():
            return {}
        path = DEFAULT_CONFIG
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"Cannot read the configuration file {path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"The configuration file {path} is not valid TOML: {e}") from e


SHARED_OPTIONS = ("--data", "--config")


def hoist_shared_options(args: list[str]) -> list[str]:
    """Move ``--data X`` / ``--config X`` found after the command to before it.

    Only tokens before a ``--`` are moved, so an argument that happens to read
    ``--data`` can still be passed after ``--``.
    """
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 2 if args[i] in SHARED_OPTIONS else 1
    front, rest = list(args[:i]), list(args[i:])
    kept: list[str] = []
    j = 0
    while j < len(rest):
        token = rest[j]
        if token == "--":
            kept.extend(rest[j:])
            break
        if token in SHARED_OPTIONS and j + 1 < len(rest):
            front.extend(rest[j : j + 2])
            j += 2
            continue
        if token.startswith(tuple(f"{o}=" for o in SHARED_OPTIONS)):
            front.append(token)
        else:
            kept.append(token)
        j += 1
    return front + kept


class KirokuGroup(click.Group):
    """The root group: takes the shared options after the command as well."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_shared_options(args))


@click.group(cls=KirokuGroup, context_settings={"auto_envvar_prefix": "KIROKU"})
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="KIROKU_CONFIG",
    help="A TOML file of settings (default: ./kiroku.toml when present).",
)
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kiroku-data"),
    envvar="KIROKU_DATA",
    show_default=True,
    help="The data directory (journal, read stores).",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None, data: Path) -> None:
    """kiroku: event sourcing and CQRS."""
    try:
        settings = read_config(config)
        source = str(config or DEFAULT_CONFIG)
        assert isinstance(ctx.command, click.Group)
        ctx.default_map = default_map(ctx.command, settings, source)
    except ConfigError as e:
        raise click.UsageError(str(e)) from e
    if (
        ctx.get_parameter_source("data") is click.core.ParameterSource.DEFAULT
        and "data" in settings
    ):
        data = Path(str(settings["data"]))
    ctx.obj = CliContext(data=data)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
