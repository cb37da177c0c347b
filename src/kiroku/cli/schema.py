"""``kiroku schema``: what event types this code knows, and whether the journal agrees.

``kiroku schema`` lists every event type of the application with its versions,
aliases and upcasters. ``kiroku schema check`` reads the whole journal in the
data directory and reports whether every stored event upcasts and decodes into
its current type; it exits non-zero on any failure, so it can gate a deploy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kiroku.app import DEFAULT_APP, load_app
from kiroku.cli.app import CliContext
from kiroku.domain.envelope import JSON
from kiroku.errors import KirokuError
from kiroku.journal.protocol import Journal
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.schema.check import CheckReport, check_journal
from kiroku.schema.codec import Codec
from kiroku.schema.registry import EventType, Registry

__all__ = ["describe", "load_registry", "register"]

PROGRESS_THRESHOLD = 50_000
"""Journals with at least this many events show a progress bar by default."""

JOURNAL_FILE = "journal.db"

F = TypeVar("F", bound=Callable[..., object])


def register(group: click.Group) -> None:
    group.add_command(schema)


def load_registry(app_ref: str | None) -> Registry:
    """The event registry of the application ``module:attr`` (the chat app if None).

    Importing the application's module is what registers its events.
    """
    return load_app(app_ref or DEFAULT_APP).registry


def describe(registry: Registry) -> list[dict[str, JSON]]:
    """Every type as plain data, sorted by name: what ``--json`` prints."""
    return [_describe_type(registry, spec) for _, spec in sorted(registry.types.items())]


def _describe_type(registry: Registry, spec: EventType) -> dict[str, JSON]:
    return {
        "name": spec.name,
        "version": spec.version,
        "first_version": spec.first_version,
        "aliases": list(spec.aliases),
        "class": f"{spec.cls.__module__}.{spec.cls.__qualname__}",
        "upcasters": [
            {"from": u.from_version, "to": u.to_version, "function": u.fn_name}
            for u in registry.upcasters_of(spec.name)
        ],
    }


def _shared_options(fn: F) -> F:
    fn = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")(fn)
    return click.option(
        "--app",
        "app_spec",
        envvar="KIROKU_APP",
        metavar="MODULE:ATTR",
        help=f"The application whose events to use [default: {DEFAULT_APP}].",
    )(fn)


@click.group(invoke_without_command=True)
@_shared_options
@click.pass_context
def schema(ctx: click.Context, app_spec: str | None, as_json: bool) -> None:
    """List every event type with its versions, aliases and upcasters."""
    ctx.meta["kiroku.schema"] = (app_spec, as_json)
    if ctx.invoked_subcommand is not None:
        return
    registry = _registry_or_exit(app_spec)
    if as_json:
        click.echo(json.dumps(describe(registry), indent=2))
        return
    Console().print(_types_table(registry))


def _types_table(registry: Registry) -> Table:
    table = Table(title=f"{len(registry.types)} event types")
    for column in ("Type", "Version", "Aliases", "Upcasters", "Class"):
        table.add_column(column)
    for name, spec in sorted(registry.types.items()):
        steps = [
            f"v{u.from_version}→v{u.to_version} {u.fn_name}" for u in registry.upcasters_of(name)
        ]
        since = f" (from v{spec.first_version})" if spec.first_version != 1 else ""
        table.add_row(
            *map(
                escape,
                (
                    name,
                    f"{spec.version}{since}",
                    ", ".join(spec.aliases),
                    "\n".join(steps),
                    f"{spec.cls.__module__}.{spec.cls.__qualname__}",
                ),
            )
        )
    return table


@schema.command()
@_shared_options
@click.option(
    "--max-failures", default=100, show_default=True, help="List at most this many failures."
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help=f"Show a progress bar (default: on for journals of {PROGRESS_THRESHOLD:,}+ events).",
)
@click.pass_context
def check(
    ctx: click.Context,
    app_spec: str | None,
    as_json: bool,
    max_failures: int,
    progress: bool | None,
) -> None:
    """Read the whole journal and check every event decodes into its current type.

    Exits 1 if any event fails, so it can run before deploying a new version.
    """
    group_app, group_json = ctx.meta.get("kiroku.schema", (None, False))
    app_spec, as_json = app_spec or group_app, as_json or group_json
    cli = ctx.find_object(CliContext)
    data = cli.data if cli is not None else Path("kiroku-data")
    codec = _codec_or_exit(app_spec)
    if not (data / JOURNAL_FILE).is_file():  # opening would create an empty one
        raise _usage_error(f"No journal at {data / JOURNAL_FILE} (pass --data DIR before 'schema')")
    report = asyncio.run(_check(data, codec, max_failures, progress, quiet=as_json))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_report(Console(), report)
    ctx.exit(0 if report.ok else 1)


async def _check(
    data: Path, codec: Codec, max_failures: int, progress: bool | None, quiet: bool
) -> CheckReport:
    journal = await _open_journal(data / JOURNAL_FILE)
    try:
        head = await journal.head_position()
        show = progress if progress is not None else (head >= PROGRESS_THRESHOLD and not quiet)
        if not show:
            return await check_journal(journal, codec, max_failures=max_failures)
        with _progress_bar() as bar:
            task = bar.add_task("Checking events", total=head)
            return await check_journal(
                journal,
                codec,
                max_failures=max_failures,
                progress=lambda pos: bar.update(task, completed=pos),
            )
    finally:
        await journal.close()


async def _open_journal(path: Path) -> Journal:
    return await SQLiteJournal.open(path)


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _print_report(console: Console, report: CheckReport) -> None:
    table = Table(title=f"Journal up to position {report.head}")
    for column in ("Stored type", "Version", "Read as", "Events", "Failed", "Status"):
        table.add_column(column)
    for row in report.rows:
        read_as = f"{row.current[0]} v{row.current[1]}" if row.current else "—"
        cells = (row.type, str(row.schema_version), read_as, str(row.events), str(row.failed))
        table.add_row(*map(escape, cells), row.status)
    console.print(table)
    if report.failures:
        _print_failures(console, report)
    verdict = "all readable" if report.ok else f"{report.failed} failed"
    console.print(f"Checked {report.events} events: {verdict}")


def _print_failures(console: Console, report: CheckReport) -> None:
    title = f"Failures (first {report.failures_shown} of {report.failed})"
    table = Table(title=title)
    for column in ("Position", "Stream", "Type", "Version", "Reason"):
        table.add_column(column)
    for f in report.failures:
        cells = (str(f.position), f.stream, f.type, str(f.schema_version), f.reason)
        table.add_row(*map(escape, cells))
    console.print(table)


class _InvocationError(click.ClickException):
    """Exit code 2 for a bad invocation, keeping 1 for 'the journal has failures'."""

    exit_code = 2


def _usage_error(message: str) -> click.ClickException:
    return _InvocationError(message)


def _registry_or_exit(app_spec: str | None) -> Registry:
    try:
        return load_registry(app_spec)
    except KirokuError as e:
        raise _usage_error(str(e)) from e


def _codec_or_exit(app_spec: str | None) -> Codec:
    """A codec for the app's registry; a broken registry is reported, not a traceback."""
    registry = _registry_or_exit(app_spec)
    try:
        return Codec(registry)
    except KirokuError as e:
        raise _usage_error(f"The event registry is invalid: {e}") from e
