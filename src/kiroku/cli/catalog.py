"""``kiroku catalog``: the event flows of an application, checked and drawn.

``kiroku catalog [--format table|mermaid|dot|json]`` prints which aggregate
emits which event, who handles it and which commands process managers send;
it exits 1 when the flows contain a forbidden cycle, naming it.
``kiroku catalog lint`` prints design advice (near-duplicate events, events
carrying other aggregates' fields); advice never fails the command.

``--app`` names an ``App`` or any object with ``registry``, ``deciders`` and
``projections`` and, optionally, ``process_managers`` and ``consumers``.
"""

from __future__ import annotations

import importlib

import click

from kiroku.app import DEFAULT_APP
from kiroku.catalog import FORMATS, Catalog, build_catalog, lint, render
from kiroku.errors import ConfigError, EventCycleError
from kiroku.schema.registry import Registry

__all__ = ["load_catalog", "register"]

_APP_OPTION = click.option(
    "--app",
    "app_ref",
    default=DEFAULT_APP,
    envvar="KIROKU_APP",
    show_default=True,
    help="The application, as package.module:attr.",
)


def register(group: click.Group) -> None:
    group.add_command(catalog)


def load_catalog(app_ref: str) -> Catalog:
    """Import ``package.module:attr`` and build the catalog of what it declares."""
    module_name, sep, attr = app_ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"An app reference looks like 'package.module:attr', got {app_ref!r}")
    try:
        target: object = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"Cannot load the application {app_ref!r}: {e}") from e
    registry = getattr(target, "registry", None)
    if not isinstance(registry, Registry):
        raise ConfigError(f"{app_ref!r} has no event registry (a 'registry' attribute)")
    consumers = [
        *getattr(target, "projections", ()),
        *getattr(target, "consumers", ()),
        *getattr(target, "process_managers", ()),
    ]
    return build_catalog(registry, getattr(target, "deciders", ()), consumers)


def _load(app_ref: str) -> Catalog:
    try:
        return load_catalog(app_ref)
    except ConfigError as e:
        raise click.UsageError(str(e)) from e


@click.group(invoke_without_command=True)
@_APP_OPTION
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.pass_context
def catalog(ctx: click.Context, app_ref: str, fmt: str) -> None:
    """Show which aggregates emit which events, who handles them, what they send."""
    if ctx.invoked_subcommand is not None:
        return
    cat = _load(app_ref)
    click.echo(render(cat, fmt))
    try:
        cat.check()
    except EventCycleError as e:
        click.echo(f"error: {e}", err=True)
        ctx.exit(1)


@catalog.command("lint")
@_APP_OPTION
def lint_command(app_ref: str) -> None:
    """Advice on event design: near-duplicate events and foreign fields."""
    advice = lint(_load(app_ref))
    for item in advice:
        click.echo(f"{item.kind}: {item.message}")
    click.echo(
        f"{len(advice)} piece(s) of advice" if advice else "no advice: the events look clean"
    )
