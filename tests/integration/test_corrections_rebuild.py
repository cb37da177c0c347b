"""Rebuild compensation driven by the journal, on real SQLite files: a retraction
appended through another journal object on the same file — as ``kiroku retract``
beside a running server does — reaches the running host, which rebuilds."""

from __future__ import annotations

from pathlib import Path

from kits.hosts import caught_up, hosted
from kits.till import CODEC, Sold, Total

from kiroku.corrections import RetractionService
from kiroku.journal.sqlite import SQLiteJournal


async def test_a_retraction_from_another_journal_object_rebuilds_a_running_host(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path) as served, await SQLiteJournal.open(path) as other:
        wrong = (await served.append("till-1", 0, [CODEC.encode(Sold(500))])).position
        await served.append("till-2", 0, [CODEC.encode(Sold(7))])
        async with hosted(served, Total(), data=tmp_path / "data", codec=CODEC) as host:
            await host.wait_for(await served.head_position(), timeout=10)
            report = await RetractionService(other).retract(wrong, reason="twice", by="cli")
            # SQLiteJournal wakes its subscribers on its own appends; one made through
            # another object is read with the next of them (see SQLiteJournal)
            await served.append("till-3", 0, [CODEC.encode(Sold(1))])
            await host.wait_for(report.retraction.position + 1, timeout=10)
            await host.rebuilds.join()
            doc = await host.reader("total").collection("total").get("all")
            assert doc == {"total": 8}
            assert host.stores.generation("total") == 2
            assert not host.rebuild_pending("total")
            assert host.runner("total").running  # the new generation follows the journal


async def test_a_retraction_appended_while_the_host_was_down_is_rebuilt_on_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.db"
    async with await SQLiteJournal.open(path) as served, await SQLiteJournal.open(path) as other:
        wrong = (await served.append("till-1", 0, [CODEC.encode(Sold(500))])).position
        await served.append("till-2", 0, [CODEC.encode(Sold(7))])
        async with caught_up(served, Total(), data=tmp_path / "data", codec=CODEC):
            pass
        await RetractionService(other).retract(wrong, reason="twice", by="cli")

        async with hosted(served, Total(), data=tmp_path / "data", codec=CODEC) as host:
            await host.wait_for(await other.head_position(), timeout=10)
            await host.rebuilds.join()
            doc = await host.reader("total").collection("total").get("all")
            assert doc == {"total": 7}
            assert host.stores.generation("total") == 2
            assert not host.rebuild_pending("total")
