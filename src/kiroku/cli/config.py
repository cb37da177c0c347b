"""The TOML settings file, checked against the commands it configures.

A misspelled key (``prot = 8080``) that is silently ignored leaves the
operator believing a setting is in force. So every key must name a command
(a table) or one of its options; anything else is an error naming the key
and the keys that are known there. Options may be spelt as on the command
line, with dashes or underscores (``log-level``, ``log_level``, ``app``):
they are translated to the names click's ``default_map`` expects.
"""

from __future__ import annotations

from collections.abc import Mapping

import click

from kiroku.errors import ConfigError

__all__ = ["ROOT_KEYS", "default_map"]

ROOT_KEYS = ("data",)
"""Top-level keys that are settings of ``kiroku`` itself rather than of a command."""


def _spellings(command: click.Command) -> dict[str, str]:
    """Every accepted spelling of each option -> the parameter's name."""
    names: dict[str, str] = {}
    for param in command.params:
        if not isinstance(param, click.Option) or param.name is None or param.name == "help":
            continue
        names[param.name] = param.name
        for opt in param.opts:
            if opt.startswith("--"):
                names[opt[2:]] = param.name
                names[opt[2:].replace("-", "_")] = param.name
    return names


def _shown(command: click.Command) -> list[str]:
    """Each option as the command line spells it, without the dashes."""
    longs = ([o for o in p.opts if o.startswith("--")] for p in command.params)
    return [found[0][2:] for found in longs if found]


def _unknown(key: str, where: str, known: list[str]) -> ConfigError:
    return ConfigError(
        f"Unknown setting {key!r} in {where}; known there: {', '.join(sorted(known)) or 'none'}"
    )


def _command_map(
    command: click.Command, table: Mapping[str, object], where: str
) -> dict[str, object]:
    spellings = _spellings(command)
    subcommands = command.commands if isinstance(command, click.Group) else {}
    out: dict[str, object] = {}
    for key, value in table.items():
        if key in subcommands and isinstance(value, dict):
            out[key] = _command_map(subcommands[key], value, f"[{where}.{key}]")
        elif key in spellings:
            out[spellings[key]] = value
        else:
            raise _unknown(key, f"[{where.strip('[]')}]", [*_shown(command), *subcommands])
    return out


def default_map(
    group: click.Group, settings: Mapping[str, object], source: str
) -> dict[str, object]:
    """The ``default_map`` for ``group`` from the file's settings, or ConfigError."""
    out: dict[str, object] = {}
    for key, value in settings.items():
        if key in ROOT_KEYS:
            continue
        command = group.commands.get(key)
        if command is None or not isinstance(value, dict):
            known = [*ROOT_KEYS, *(f"[{name}]" for name in group.commands)]
            raise _unknown(key, f"the top level of {source}", known)
        out[key] = _command_map(command, value, key)
    return out
