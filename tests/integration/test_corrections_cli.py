"""``kiroku retract`` on a real SQLite journal in a data directory."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from click.testing import CliRunner
from kits.hosts import caught_up

from kiroku import App, Codec, Projection, Recorded, Registry, Tx, event, handles
from kiroku.apps.travel.walkthrough import walkthrough
from kiroku.cli import main
from kiroku.corrections import EventRetracted
from kiroku.journal.sqlite import SQLiteJournal

REG = Registry([EventRetracted])
CODEC = Codec(REG)


@event("t.cli.Ordered", registry=REG)
@dataclass(frozen=True, slots=True)
class Ordered:
    item: str


class Orders(Projection):
    name: ClassVar[str] = "orders"

    @handles(Ordered)
    async def ordered(self, tx: Tx, r: Recorded[Ordered]) -> None:
        await tx.collection("orders").put(r.stream_id, {"item": r.data.item})


APP = App("orders", REG, projections=[Orders()])


async def _seed(path: Path) -> str:
    journal = await SQLiteJournal.open(path / "journal.db")
    try:
        new = CODEC.encode(Ordered("tea"))
        await journal.append("order-1", 0, [new])
        async with caught_up(journal, *APP.projections, data=path, codec=CODEC):
            pass
        return str(new.event_id)
    finally:
        await journal.close()


async def _stream(path: Path) -> list[str]:
    journal = await SQLiteJournal.open(path / "journal.db")
    try:
        return [e.type for e in await journal.read_stream("order-1")]
    finally:
        await journal.close()


def test_retract_by_id_then_refuse_a_second_time(tmp_path: Path) -> None:
    event_id = asyncio.run(_seed(tmp_path))
    runner = CliRunner()
    args = ["--data", str(tmp_path), "retract", event_id, "--reason", "wrong item", "--by", "ops"]
    args += ["--app", f"{__name__}:APP"]
    first = runner.invoke(main, [*args, "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.output)
    assert (report["retracted_position"], report["retraction_position"], report["late"]) == (
        1,
        2,
        False,
    )
    again = runner.invoke(main, args)
    assert again.exit_code == 1
    assert "already retracted at position 2" in again.output
    system = runner.invoke(main, [*args[:3], "2", "--reason", "x", *args[-2:]])
    assert system.exit_code == 1
    assert "system event" in system.output
    missing = runner.invoke(main, [*args[:3], "9", "--reason", "x", *args[-2:]])
    assert missing.exit_code == 1
    assert "No event at 9" in missing.output
    assert asyncio.run(_stream(tmp_path)) == ["t.cli.Ordered", "kiroku.EventRetracted"]


def test_a_bad_window_or_missing_journal_is_a_usage_error(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["--data", str(tmp_path), "retract", "1", "--reason", "x"])
    assert missing.exit_code == 2
    assert "No journal at" in missing.output
    asyncio.run(_seed(tmp_path))
    bad = runner.invoke(
        main, ["--data", str(tmp_path), "retract", "1", "--reason", "x", "--window", "soon"]
    )
    assert bad.exit_code == 2
    assert "Invalid duration 'soon'" in bad.output


def test_holds_shows_what_each_hold_back_consumer_waits_for(tmp_path: Path) -> None:
    asyncio.run(walkthrough(tmp_path, lambda _: None))
    result = CliRunner().invoke(main, ["--data", str(tmp_path), "holds"])
    assert result.exit_code == 0, result.output
    assert "travel.payments: 0 held" in result.output
    assert "2 released, 1 retracted, 0 compensations pending" in result.output
    empty = CliRunner().invoke(main, ["--data", str(tmp_path / "none"), "holds"])
    assert "No hold-back consumers have run" in empty.output


class Tally(Projection):
    """Counts orders; compensated by a rebuild."""

    name: ClassVar[str] = "tally"
    on_retraction = "rebuild"

    @handles(Ordered)
    async def ordered(self, tx: Tx, r: Recorded[Ordered]) -> None:
        col = tx.collection("tally")
        doc = await col.get("all") or {"orders": 0}
        count = doc["orders"]
        assert isinstance(count, int)
        await col.put("all", {"orders": count + 1})


TALLY_APP = App("tally", REG, projections=[Tally()])


async def _met_by_a_server_that_crashed(path: Path) -> None:
    """A host whose runner met the retraction, noted it, and stopped before rebuilding."""
    journal = await SQLiteJournal.open(path / "journal.db")
    try:
        async with caught_up(
            journal, Tally(), data=path, codec=CODEC, on_rebuild_needed=lambda name: None
        ):
            pass
    finally:
        await journal.close()


def test_projections_shows_a_pending_rebuild_until_rebuild_clears_it(tmp_path: Path) -> None:
    event_id = asyncio.run(_seed(tmp_path))
    runner = CliRunner()
    data, app = ["--data", str(tmp_path)], ["--app", f"{__name__}:TALLY_APP"]
    retracted = runner.invoke(main, [*data, "retract", event_id, "--reason", "x", *app])
    assert retracted.exit_code == 0, retracted.output
    asyncio.run(_met_by_a_server_that_crashed(tmp_path))

    before = runner.invoke(main, [*data, "projections", *app])
    assert before.exit_code == 0, before.output
    assert "pending" in before.output
    rebuilt = runner.invoke(main, [*data, "rebuild", "tally", *app])
    assert rebuilt.exit_code == 0, rebuilt.output
    after = runner.invoke(main, [*data, "projections", *app])
    assert after.exit_code == 0, after.output
    assert "Rebuild" in after.output
    assert "pending" not in after.output
