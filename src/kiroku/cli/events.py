"""``kiroku events``: read the journal, or follow it as events are appended."""

from __future__ import annotations

from pathlib import Path

import click

from kiroku.cli.app import CliContext, pass_cli
from kiroku.cli.readside import open_journal, run
from kiroku.domain.envelope import StoredEvent

__all__ = ["register"]


def register(group: click.Group) -> None:
    group.add_command(events)


@click.command()
@click.option("--stream", help="Only this stream.")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Start after this position.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="At most this many; a note on stderr says when more follow.",
)
@click.option("--follow", is_flag=True, help="Keep printing events as they are appended.")
@pass_cli
def events(cli: CliContext, stream: str | None, after: int, limit: int, follow: bool) -> None:
    """Print events: position, stream@version, type/schema version, time, data."""
    run(_events(cli.data, stream, after, limit, follow))


async def _events(data: Path, stream: str | None, after: int, limit: int, follow: bool) -> None:
    journal = await open_journal(data)
    try:
        if follow:
            async for batch in journal.subscribe(after):
                _echo([e for e in batch if stream is None or e.stream == stream])
            return
        if stream is not None:
            found = [e for e in await journal.read_stream(stream) if e.position > after]
        else:
            found = await journal.read_all(after, limit + 1)
        _echo(found[:limit])
        if len(found) > limit:
            last = found[limit - 1].position
            click.echo(
                f"stopped at the limit of {limit} events (last position {last}):"
                f" pass --after {last} for the next ones, or a larger --limit",
                err=True,
            )
    finally:
        await journal.close()


def _echo(batch: list[StoredEvent]) -> None:
    for e in batch:
        when = e.occurred_at.isoformat(timespec="milliseconds")
        click.echo(
            f"{e.position}\t{e.stream}@{e.version}\t{e.type}/v{e.schema_version}\t{when}\t"
            f"{e.data.decode(errors='replace')}"
        )
