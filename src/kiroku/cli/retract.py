"""``kiroku retract POSITION|EVENT_ID --reason "..."``: void an invalid event;
``kiroku holds``: what hold-back consumers are waiting to release.

Appends a retraction to the original event's stream in the data directory's
journal and prints what it touched: whether it came after the compensation
window (late) and the blast radius known to the hold-back store. Refused
retractions (unknown event, system event, already retracted) exit 1 and
append nothing.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path

import click

from kiroku.app import load_app
from kiroku.cli.app import CliContext, pass_cli
from kiroku.cli.readside import app_option, open_host
from kiroku.corrections import (
    BlastRadiusSource,
    CompensationWindow,
    HoldStatus,
    LedgerWitness,
    RetractionReport,
    RetractionService,
    SQLiteHoldStore,
    parse_duration,
)
from kiroku.errors import ConfigError, KirokuError
from kiroku.journal.sqlite.ownership import claim_journal
from kiroku.projections import LedgerEntry

__all__ = ["register"]

JOURNAL_FILE = "journal.db"
HOLDS_FILE = "holds.db"


def register(group: click.Group) -> None:
    group.add_command(retract)
    group.add_command(holds)


@click.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why the event is void (kept in the journal).")
@click.option("--by", default=None, help="Who retracts it (default: the current user).")
@click.option(
    "--window",
    default=None,
    envvar="KIROKU_COMPENSATION_WINDOW",
    help="The compensation window, e.g. 24h (default 24h).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@app_option
@pass_cli
def retract(
    cli: CliContext,
    ref: str,
    reason: str,
    by: str | None,
    window: str | None,
    as_json: bool,
    app_ref: str,
) -> None:
    """Retract the event at POSITION (or with EVENT_ID).

    The report's blast radius comes from the app's projection ledger and the
    hold-back store in the data directory.
    """
    try:
        length = CompensationWindow(parse_duration(window)) if window else CompensationWindow()
    except ConfigError as e:
        raise click.BadParameter(str(e), param_hint="--window") from e
    journal_path = cli.data / JOURNAL_FILE
    if not journal_path.exists():
        raise click.UsageError(f"No journal at {journal_path} (pass --data DIR before 'retract')")
    try:
        claim_journal(journal_path, load_app(app_ref).name)
        report = asyncio.run(
            _retract(cli.data, app_ref, ref, reason, by or getpass.getuser(), length)
        )
    except KirokuError as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(1) from e
    click.echo(json.dumps(_as_json(report), indent=2) if as_json else _as_text(report))


async def _retract(
    data: Path, app_ref: str, ref: str, reason: str, by: str, window: CompensationWindow
) -> RetractionReport:
    async with open_host(data, app_ref) as host:

        async def ledger(position: int) -> list[LedgerEntry]:
            return (await host.ledger(position))[1]

        witnesses: list[BlastRadiusSource] = [LedgerWitness(ledger)]
        holds = SQLiteHoldStore(data / HOLDS_FILE) if (data / HOLDS_FILE).exists() else None
        if holds is not None:
            witnesses.append(holds)
        try:
            service = RetractionService(host.journal, window=window, witnesses=witnesses)
            return await service.retract(ref, reason=reason, by=by)
        finally:
            if holds is not None:
                holds.close()


def _as_json(report: RetractionReport) -> dict[str, object]:
    return {
        "retracted_position": report.original.position,
        "retracted_type": report.original.type,
        "stream": report.original.stream,
        "retraction_position": report.retraction.position,
        "late": report.late,
        "window_closed_at": report.window_closed_at.isoformat(),
        "blast_radius": [
            {"consumer": x.consumer, "outcome": x.outcome} for x in report.blast_radius
        ],
    }


def _as_text(report: RetractionReport) -> str:
    o = report.original
    lines = [
        f"Retracted {o.type} at position {o.position} (stream {o.stream}, version {o.version}); "
        f"retraction written at position {report.retraction.position}.",
    ]
    if report.late:
        lines.append(
            f"LATE: the compensation window closed at {report.window_closed_at.isoformat()}; "
            f"consumers that already acted: {', '.join(report.acted) or 'none known'}"
        )
    lines += [f"  {x.consumer}: {x.outcome}" for x in report.blast_radius]
    return "\n".join(lines)


@click.command()
@pass_cli
def holds(cli: CliContext) -> None:
    """Show each hold-back consumer's held events: count, oldest, next release."""
    path = cli.data / HOLDS_FILE
    if not path.exists():
        click.echo(f"No hold-back consumers have run in {cli.data}")
        return
    for status in asyncio.run(_statuses(path)):
        nxt = status.next_release_at.isoformat() if status.next_release_at else "-"
        oldest = status.oldest_position or "-"
        click.echo(
            f"{status.consumer}: {status.held} held (oldest position {oldest}, "
            f"next release {nxt}); {status.released} released, {status.retracted} retracted, "
            f"{status.pending_compensations} compensations pending"
        )


async def _statuses(path: Path) -> list[HoldStatus]:
    store = SQLiteHoldStore(path)
    try:
        return [await store.status(name) for name in await store.consumers()]
    finally:
        store.close()
