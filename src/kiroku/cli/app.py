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
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import click

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


@click.group(context_settings={"auto_envvar_prefix": "KIROKU"})
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
    except ConfigError as e:
        raise click.UsageError(str(e)) from e
    if (
        ctx.get_parameter_source("data") is click.core.ParameterSource.DEFAULT
        and "data" in settings
    ):
        data = Path(str(settings["data"]))
    ctx.default_map = {
        name: cast(dict[str, object], value)
        for name, value in settings.items()
        if isinstance(value, dict)
    }
    ctx.obj = CliContext(data=data)


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(main)
