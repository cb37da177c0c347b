"""``kiroku status``: is every process of the deployment alive, and how far behind is it?

It reads three things and joins them: the journal's head, the bus's stream
(last sequence, and each durable consumer's unacknowledged messages) when the
bus is NATS, and every process's heartbeat (``kiroku.roles.heartbeat``), from
wherever the deployment keeps them. Each process is shown with its roles, the
age of its last beat, its positions and its lag (the journal head minus the
lowest checkpoint it holds: the relay's when active, each read model's).

Exit status 0 when everything is alive and within ``--max-lag``; 1 when a
process is dead (no beat for several intervals: killed, hung or cut off), a
process or consumer lags beyond it, or the journal cannot be read, so a
monitor can run it as a check. A dead process stays listed until it beats
again under the same ``KIROKU_NODE_ID``, or ``--forget-dead`` removes it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import msgspec

from kiroku.api.user_store import is_postgres_url
from kiroku.bus.protocol import Bus
from kiroku.cli.app import CliContext, pass_cli
from kiroku.errors import ConfigError, KirokuError
from kiroku.roles.beat_stores import beat_store_for
from kiroku.roles.heartbeat import BeatStore, Seen
from kiroku.roles.spec import bus_from_url, journal_from_url, safe_url, sqlite_path

__all__ = ["register"]


def register(group: click.Group) -> None:
    group.add_command(status)


@dataclass
class Report:
    journal: str
    head: int | None = None
    error: str | None = None
    bus: dict[str, Any] | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def node_row(seen: Seen, head: int | None, max_lag: int) -> dict[str, Any]:
    beat = seen.beat
    held = {k: v for k, v in beat.positions.items() if k.startswith("projection:")}
    if beat.relay_active:
        held["relay"] = beat.positions.get("relay", 0)
    lowest = min(held.values()) if held else None
    lag = head - lowest if head is not None and lowest is not None else None
    not_ready = {role: why for role, why in beat.ready.items() if why != "ok"}
    state = "dead" if seen.dead else ("standby" if beat.relay_active is False else "alive")
    row: dict[str, Any] = msgspec.to_builtins(beat)
    return row | {
        "age": round(seen.age, 2),
        "state": state,
        "position": lowest,
        "lag": lag,
        "behind": lag is not None and lag > max_lag and not seen.dead,
        "not_ready": not_ready,
    }


async def bus_report(bus: Bus, url: str, max_lag: int) -> dict[str, Any]:
    """The NATS stream's last sequence and what each durable consumer has not acked yet
    (pending + delivered-unacked: a consumer filtered to some partitions sees only those)."""
    out: dict[str, Any] = {"url": safe_url(url)}
    js, options = getattr(bus, "js", None), getattr(bus, "options", None)
    if js is None or options is None:  # the in-process bus: nothing outside this process
        return out
    info = await js.stream_info(options.stream)
    out["stream"], out["last_seq"] = options.stream, info.state.last_seq
    consumers = []
    for c in sorted(await js.consumers_info(options.stream), key=lambda c: c.name):
        unacked = (c.num_pending or 0) + (c.num_ack_pending or 0)
        floor = c.ack_floor.stream_seq if c.ack_floor else 0
        consumers.append(
            {"name": c.name, "ack_floor": floor, "unacked": unacked, "behind": unacked > max_lag}
        )
    out["consumers"] = consumers
    return out


async def gather(
    journal_url: str, bus_url: str | None, data: Path, max_lag: int, forget_dead: bool
) -> Report:
    report = Report(safe_url(journal_url))
    try:
        if journal_url.startswith("sqlite:///") and not sqlite_path(journal_url, "j").exists():
            raise ConfigError(f"There is no journal at {sqlite_path(journal_url, 'journal')}")
        journal = await journal_from_url(journal_url)
        try:
            report.head = await journal.head_position()
        finally:
            await journal.close()
    except KirokuError as e:
        report.error = str(e)
        report.problems.append(f"journal: {e}")
    bus = None
    if bus_url:
        try:
            bus = await bus_from_url(bus_url)
            assert bus is not None
            report.bus = await bus_report(bus, bus_url, max_lag)
        except (KirokuError, TimeoutError) as e:
            report.bus = {"url": safe_url(bus_url), "error": str(e)}
            report.problems.append(f"bus: {e}")
    seen: list[Seen] = []
    try:
        if bus_url and bus is None and not is_postgres_url(journal_url):
            report.problems.append("heartbeats: they are kept beside the bus, which is unreachable")
        else:
            seen = await read_beats(beat_store_for(journal_url, bus, data), forget_dead)
    except KirokuError as e:  # e.g. a database not migrated since heartbeats were added
        report.problems.append(f"heartbeats: {e}")
    finally:
        if bus is not None:
            await bus.close()
    report.nodes = [node_row(s, report.head, max_lag) for s in seen]
    report.problems += _problems(report)
    return report


async def read_beats(store: BeatStore, forget_dead: bool) -> list[Seen]:
    try:
        seen = await store.read()
        for s in seen:
            if forget_dead and s.dead:
                await store.forget(s.beat.node)
        return seen
    finally:
        await store.close()


def _problems(report: Report) -> list[str]:
    found = [f"{n['node']} ({','.join(n['roles'])}) is dead: last beat {n['age']}s ago"
             for n in report.nodes if n["state"] == "dead"]  # fmt: skip
    found += [f"{n['node']} lags {n['lag']} events" for n in report.nodes if n["behind"]]
    for c in (report.bus or {}).get("consumers", []):
        if c["behind"]:
            found.append(f"bus consumer {c['name']} has {c['unacked']} unacknowledged messages")
    return found


def render(report: Report) -> list[str]:
    lines = [f"journal {report.journal}: " + (f"head {report.head}" if report.error is None
             else f"UNREACHABLE: {report.error}")]  # fmt: skip
    if report.bus is not None:
        b = report.bus
        lines.append(f"bus {b['url']}: " + (f"stream {b['stream']} last seq {b['last_seq']}"
                     if "stream" in b else b.get("error", "in-process")))  # fmt: skip
        lines += [f"  consumer {c['name']}: ack floor {c['ack_floor']}, {c['unacked']} unacked"
                  for c in b.get("consumers", [])]  # fmt: skip
    header = ("NODE", "ROLES", "HOST", "PID", "BEAT", "STATE", "POSITION", "LAG", "READY")
    rows = [header] + [
        (n["node"], ",".join(n["roles"]), n["host"], str(n["pid"]), f"{n['age']:.1f}s",
         n["state"], _dash(n["position"]), _dash(n["lag"]),
         "; ".join(f"{r}: {w}" for r, w in n["not_ready"].items()) or "ok")
        for n in report.nodes
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    if not report.nodes:
        lines.append("(no process has published a heartbeat here)")
    lines += [f"PROBLEM: {p}" for p in report.problems]
    return lines


def _dash(value: int | None) -> str:
    return "-" if value is None else str(value)


@click.command()
@click.option(
    "--journal",
    "journal_url",
    default=None,
    envvar="KIROKU_JOURNAL",
    help="sqlite:///PATH or postgresql://… (default: sqlite:///DATA/journal.db).",
)
@click.option(
    "--bus",
    "bus_url",
    default=None,
    envvar="KIROKU_BUS",
    help="nats://HOST:PORT: report the stream and its consumers (and find heartbeats there).",
)
@click.option(
    "--read-store",
    "read_store",
    default=None,
    envvar="KIROKU_READ_STORE",
    help="sqlite:///DIR where embedded processes beat (default: sqlite:///DATA).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option(
    "--max-lag", default=10_000, show_default=True, type=click.IntRange(min=0),
    help="Events a process or consumer may be behind before status fails.",
)  # fmt: skip
@click.option("--forget-dead", is_flag=True, help="Remove dead processes' beats after showing.")
@pass_cli
def status(
    cli: CliContext,
    journal_url: str | None,
    bus_url: str | None,
    read_store: str | None,
    as_json: bool,
    max_lag: int,
    forget_dead: bool,
) -> None:
    """Every process's liveness, position and lag; exit 1 if one is dead or behind."""
    journal = journal_url or f"sqlite:///{cli.data / 'journal.db'}"
    try:
        data = sqlite_path(read_store or f"sqlite:///{cli.data}", "read store")
        report = asyncio.run(gather(journal, bus_url, data, max_lag, forget_dead))
    except KirokuError as e:
        raise click.ClickException(str(e)) from e
    if as_json:
        body = dataclasses.asdict(report) | {"healthy": not report.problems}
        click.echo(json.dumps(body))
    else:
        for line in render(report):
            click.echo(line)
    if report.problems:
        raise SystemExit(1)
