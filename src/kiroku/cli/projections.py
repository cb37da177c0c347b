"""Operator commands for the read side: status, replay, rebuild, parked events, the ledger."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Callable, Iterator

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kiroku.app import load_app
from kiroku.cli.app import CliContext, pass_cli
from kiroku.cli.arguments import check_parked_ref, check_projection
from kiroku.cli.owner import claiming, owning
from kiroku.cli.readside import (
    app_option,
    open_host,
    parse_ref,
    parse_start,
    run,
    stores_option,
    stores_spec,
)
from kiroku.domain.numbers import ascii_digits, parse_int
from kiroku.errors import DataDirectoryBusyError, InputError, KirokuError
from kiroku.projections.model import Progress as RebuildProgress
from kiroku.projections.model import RunnerState, RunnerStatus
from kiroku.projections.rebuild import resolve_start
from kiroku.projections.safety import check_replayable, replay_plan
from kiroku.roles.spec import RoleSpec, StartupError

__all__ = ["register"]


def register(group: click.Group) -> None:
    for command in (projections, replay, rebuild, parked, ledger):
        group.add_command(command)


def _console() -> Console:
    return Console(width=160)


@click.command()
@app_option
@stores_option
@pass_cli
def projections(
    cli: CliContext, app_ref: str, journal_url: str | None, read_store: str | None
) -> None:
    """Show every projection: position, lag, parked events, state."""
    run(_status(stores_spec(cli.data, journal_url, read_store), app_ref))


async def _status(spec: RoleSpec, app_ref: str) -> None:
    async with open_host(spec, app_ref) as host:
        rows = await host.status()
        stop_names = {n for n in host.names if host.policy(n).on_exhausted == "stop"}
    table = Table(title="projections")
    for column in ("Name", "State", "Position", "Head", "Lag", "Lag (s)", "Parked", "Rebuild"):
        table.add_column(column)
    for s in rows:
        table.add_row(
            s.name,
            _state(s, s.name in stop_names),
            str(s.position),
            str(s.head),
            str(s.lag_events),
            f"{s.lag_seconds:.1f}",
            str(s.parked),
            "pending" if s.rebuild_pending else "",
        )
    _console().print(table)


def _state(s: RunnerStatus, stops: bool) -> str:
    if s.parked and stops:
        return RunnerState.FAILED.value
    return "caught up" if s.lag_events == 0 else "behind"


@click.command()
@click.argument("name")
@click.option("--from", "start", required=True, help="A position or an ISO time.")
@app_option
@stores_option
@pass_cli
def replay(
    cli: CliContext,
    name: str,
    start: str,
    app_ref: str,
    journal_url: str | None,
    read_store: str | None,
) -> None:
    """Replay events to one projection from a position or a time (others untouched).

    Only a projection declared replay-safe is replayed; any other is refused
    before anything runs, with the rebuild to run instead.
    """
    check_projection(app_ref, name)
    try:
        check_replayable(load_app(app_ref).projection(name))
        parse_start(start)
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    spec = stores_spec(cli.data, journal_url, read_store)
    with _owning(spec, "replay", name, name):
        run(_replay(spec, app_ref, name, start))


async def _replay(spec: RoleSpec, app_ref: str, name: str, start: str) -> None:
    async with open_host(spec, app_ref) as host:
        runner = host.runner(name)
        first = await resolve_start(host.journal, parse_start(start))
        click.echo(replay_plan(runner.projection, first))
        with Progress(*_COLUMNS, console=_console()) as bar:
            await host.replay(name, first, _reporter(bar, f"replay {name}"))
        click.echo(
            f"{name}: replayed from position {first} to {runner.position} "
            f"({runner.duplicates} duplicates skipped, {runner.parked_count} parked)"
        )


@click.command()
@click.argument("name")
@app_option
@stores_option
@pass_cli
def rebuild(
    cli: CliContext, name: str, app_ref: str, journal_url: str | None, read_store: str | None
) -> None:
    """Rebuild one projection from position 0 beside the serving store, then swap."""
    check_projection(app_ref, name)
    spec = stores_spec(cli.data, journal_url, read_store)
    with _owning(spec, "rebuild", name, name):
        run(_rebuild(spec, app_ref, name))


async def _rebuild(spec: RoleSpec, app_ref: str, name: str) -> None:
    async with open_host(spec, app_ref) as host:
        host.runner(name)
        with Progress(*_COLUMNS, console=_console()) as bar:
            runner = await host.rebuild(name, _reporter(bar, f"rebuild {name}"))
        click.echo(f"{name}: rebuilt to position {runner.position} and swapped")


@contextlib.contextmanager
def _owning(
    spec: RoleSpec, action: str, target: str, projection: str, hint: str = ""
) -> Iterator[None]:
    """Be the only writer of the projection's read store while a command moves it:
    the read-store directory's ``flock``, or on PostgreSQL the projection's
    advisory lock (see ``owner``)."""
    hint = hint or (
        f"{action} through the server instead: "
        f"POST /api/admin/projections/{target}/{action}, or its operations page"
    )
    who = f"kiroku {action} {target}"
    claim: contextlib.AbstractContextManager[None]
    if spec.read_on_postgres:
        claim = claiming(spec.read_store, [projection], who, hint)
    elif spec.read_dir.is_dir():
        claim = owning(spec.read_dir, who, hint)
    else:  # nothing to own: the command itself says what is missing
        claim = contextlib.nullcontext()
    try:
        with claim:
            yield
    except (DataDirectoryBusyError, StartupError) as e:
        raise click.ClickException(str(e)) from e


_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    TextColumn("{task.completed}/{task.total} · {task.fields[rate]:.0f} ev/s"),
    TimeRemainingColumn(),
)


def _reporter(bar: Progress, description: str) -> Callable[[RebuildProgress], None]:
    """A progress callback for replay and rebuild that moves one bar."""
    task = bar.add_task(description, total=None, rate=0.0)

    def report(p: RebuildProgress) -> None:
        bar.update(task, completed=p.position, total=p.target, rate=p.events_per_second)

    return report


@click.command(context_settings={"ignore_unknown_options": False})
@click.argument("args", nargs=-1)
@click.option("--reason", help="Why the event is skipped (required by skip).")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved ones.")
@app_option
@stores_option
@pass_cli
def parked(
    cli: CliContext,
    args: tuple[str, ...],
    reason: str | None,
    include_resolved: bool,
    app_ref: str,
    journal_url: str | None,
    read_store: str | None,
) -> None:
    """List parked events [NAME], or: parked retry NAME:ID, parked skip NAME:ID --reason ..."""
    spec = stores_spec(cli.data, journal_url, read_store)
    if args and args[0] in ("retry", "skip"):
        if len(args) != 2:
            raise click.UsageError(f"usage: kiroku parked {args[0]} NAME:ID")
        name, ident = check_parked_ref(app_ref, args[1])
        hint = (
            f"{args[0]} it through the server instead: "
            f"POST /api/admin/parked/{name}/{ident}/{args[0]}, or its operations page"
        )
        with _owning(spec, f"parked {args[0]}", args[1], name, hint):
            run(_resolve(spec, app_ref, args[0], args[1], reason))
    elif len(args) > 1:
        raise click.UsageError("usage: kiroku parked [NAME]")
    else:
        run(_list_parked(spec, app_ref, args[0] if args else None, include_resolved))


async def _list_parked(spec: RoleSpec, app_ref: str, name: str | None, everything: bool) -> None:
    async with open_host(spec, app_ref) as host:
        rows = host.parked(name, include_resolved=everything)
    table = Table(title=f"{len(rows)} parked events")
    for column in ("Ref", "Position", "Event", "Kind", "Attempts", "Status", "Error"):
        table.add_column(column)
    for p in rows:
        status = p.status if p.reason is None else f"{p.status}: {p.reason}"
        table.add_row(
            p.ref,
            str(p.position),
            f"{p.stream}@{p.version} {p.type}",
            p.kind,
            str(p.attempts),
            status,
            p.error,
        )
    _console().print(table)


async def _resolve(spec: RoleSpec, app_ref: str, action: str, ref: str, reason: str | None) -> None:
    name, sep, ident = ref.rpartition(":")
    if not sep or not ascii_digits(ident):
        raise InputError(f"A parked event is named NAME:ID (see `kiroku parked`), got {ref!r}")
    number = parse_int(ident, "ID", low=1)
    async with open_host(spec, app_ref) as host:
        if action == "retry":
            await host.retry(name, number)
        else:
            if not reason:
                raise InputError(f"skip {ref} needs --reason: nothing is skipped without a record")
            await host.skip(name, number, reason, by=f"{getpass.getuser()} (command line)")
    click.echo(f"{ref}: {'applied' if action == 'retry' else 'skipped'}")


@click.command()
@click.argument("ref")
@app_option
@stores_option
@pass_cli
def ledger(
    cli: CliContext, ref: str, app_ref: str, journal_url: str | None, read_store: str | None
) -> None:
    """Which consumer did what with one event (by position or event id)."""
    run(_ledger(stores_spec(cli.data, journal_url, read_store), app_ref, ref))


async def _ledger(spec: RoleSpec, app_ref: str, ref: str) -> None:
    async with open_host(spec, app_ref) as host:
        event, entries = await host.ledger(parse_ref(ref))
    table = Table(
        title=f"position {event.position} · {event.stream}@{event.version} {event.type} "
        f"· {event.event_id}"
    )
    for column in ("Consumer", "Outcome", "Batch", "When", "Detail"):
        table.add_column(column)
    for e in entries:
        when = e.processed_at.isoformat(timespec="seconds") if e.processed_at else ""
        batch = "" if e.batch is None else str(e.batch)
        table.add_row(e.projection, e.outcome.value, batch, when, e.detail or "")
    _console().print(table)
