"""The read store's checkpoint contract: the read-model change, the checkpoint, the
stream versions and the ledger are written in one transaction, crash-safe.

A read-store backend subclasses ``CheckpointContract`` and names how to open a
store (``store_factory``, ``module:attribute`` of a class or function taking
``(place, projection_name)``), since the crash test opens it in a child process
that dies in the middle of a batch. ``place`` (a fixture, a string) says where
the store lives: a file by default, a database for a server backend::

    class TestSQLiteReadStore(CheckpointContract):
        store_factory = "kiroku.projections.store:ProjectionStore"
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, cast

import pytest

from kiroku.domain.envelope import Recorded
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections.checkpoint import load_checkpoint, stream_version
from kiroku.projections.ledger import ledger_lookup
from kiroku.projections.model import FailurePolicy, Outcome
from kiroku.projections.projection import Projection, handles
from kiroku.projections.readstore import ReadStore, Tx
from kiroku.projections.runner import ProjectionRunner
from kiroku.schema.codec import Codec
from kiroku.schema.registry import Registry, event

__all__ = ["CheckpointContract", "Marked", "Marks"]

REGISTRY = Registry()
CODEC = Codec(REGISTRY)


@event("contract.Marked", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Marked:
    label: str


class Marks(Projection):
    """One document per event; ``fail`` raises, ``die`` kills the process mid-batch."""

    name: ClassVar[str] = "contract.marks"

    @handles(Marked)
    async def marked(self, tx: Tx, r: Recorded[Marked]) -> None:
        await tx.collection("marks").put(str(r.position), {"label": r.data.label})
        if r.data.label == "fail":
            raise ValueError("a handler failure")
        if r.data.label == "die":
            tx.flush()  # the batch's earlier writes are in the transaction, uncommitted
            os._exit(9)


def open_store(factory: str, place: str) -> ReadStore:
    module, _, attribute = factory.partition(":")
    make = getattr(importlib.import_module(module), attribute)
    return cast(ReadStore, make(place, Marks.name))


async def _catch_up(factory: str, journal_path: Path, store_path: str) -> None:
    """What the child process runs: one batch over the whole journal."""
    journal = await SQLiteJournal.open(journal_path)
    try:
        runner = ProjectionRunner(Marks(), journal, open_store(factory, store_path), codec=CODEC)
        await runner.run(follow=False)
    finally:
        await journal.close()


async def _mark_ids(runner: ProjectionRunner) -> list[str]:
    """The documents' ids, read through a view of its own (closed: a pool on a server)."""
    view = runner.store.reader()
    try:
        return await view.collection("marks").ids()
    finally:
        view.close()


class CheckpointContract:
    store_factory: ClassVar[str]

    @pytest.fixture
    def place(self, tmp_path: Path) -> str:
        return str(tmp_path / "store.db")

    @pytest.fixture
    async def journal(self, tmp_path: Path) -> AsyncIterator[SQLiteJournal]:
        journal = await SQLiteJournal.open(tmp_path / "journal.db")
        yield journal
        await journal.close()

    async def append(self, journal: SQLiteJournal, stream: str, *labels: str) -> None:
        await journal.append(stream, ANY, CODEC.encode_all([Marked(label) for label in labels]))

    def runner(self, journal: SQLiteJournal, path: str, policy: FailurePolicy) -> ProjectionRunner:
        store = open_store(self.store_factory, path)
        return ProjectionRunner(Marks(), journal, store, codec=CODEC, policy=policy)

    async def test_a_batch_moves_documents_checkpoint_versions_and_ledger_together(
        self, journal: SQLiteJournal, place: str
    ) -> None:
        await self.append(journal, "mark-1", "a", "b")
        await self.append(journal, "mark-2", "c")
        runner = self.runner(journal, place, FailurePolicy())
        await runner.run(follow=False)
        conn = runner.store.conn
        assert load_checkpoint(conn) == (3, 1)  # position 3, one batch
        assert (stream_version(conn, "mark-1"), stream_version(conn, "mark-2")) == (2, 1)
        found = [ledger_lookup(conn, Marks.name, p) for p in (1, 2, 3)]
        assert [(e.outcome, e.batch) for e in found if e] == [(Outcome.APPLIED, 1)] * 3
        assert len(await _mark_ids(runner)) == 3
        runner.store.close()

    async def test_a_failed_event_leaves_nothing_of_itself_and_the_checkpoint_before_it(
        self, journal: SQLiteJournal, place: str
    ) -> None:
        await self.append(journal, "mark-1", "a", "fail", "b")
        policy = FailurePolicy(attempts=1, backoff=0, on_exhausted="stop")
        runner = self.runner(journal, place, policy)
        await runner.run(follow=False)
        conn = runner.store.conn
        assert load_checkpoint(conn)[0] == 1
        assert stream_version(conn, "mark-1") == 1
        assert "2" not in await _mark_ids(runner)
        parked = ledger_lookup(conn, Marks.name, 2)
        assert parked is not None
        assert parked.outcome is Outcome.PARKED
        assert ledger_lookup(conn, Marks.name, 3) is None
        runner.store.close()

    async def test_a_crash_mid_batch_leaves_the_last_committed_batch(
        self, journal: SQLiteJournal, tmp_path: Path, place: str
    ) -> None:
        await self.append(journal, "mark-1", "a", "b")
        store_path = place
        first = self.runner(journal, store_path, FailurePolicy())
        await first.run(follow=False)
        first.store.close()
        await self.append(journal, "mark-1", "c", "d", "die", "e")
        code = (
            "import asyncio, sys\n"
            "from pathlib import Path\n"
            "from kiroku.testing.contracts.checkpoint import _catch_up\n"
            "asyncio.run(_catch_up(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))\n"
        )
        args = [self.store_factory, str(tmp_path / "journal.db"), store_path]
        child = await asyncio.create_subprocess_exec(sys.executable, "-c", code, *args)
        assert await asyncio.wait_for(child.wait(), 60) == 9  # died in the batch, after c, d
        runner = self.runner(journal, store_path, FailurePolicy())
        await runner.open()
        conn = runner.store.conn
        assert load_checkpoint(conn) == (2, 1)
        assert stream_version(conn, "mark-1") == 2
        assert ledger_lookup(conn, Marks.name, 3) is None
        assert len(await _mark_ids(runner)) == 2
        runner.store.close()

    async def test_reopening_reads_back_where_it_stood(
        self, journal: SQLiteJournal, place: str
    ) -> None:
        await self.append(journal, "mark-1", "a", "b", "c")
        first = self.runner(journal, place, FailurePolicy())
        await first.run(follow=False)
        first.store.close()
        again = self.runner(journal, place, FailurePolicy())
        await again.open()
        assert (again.position, again.batch) == (3, 1)
        await self.append(journal, "mark-1", "d")
        await again.run(follow=False)
        assert load_checkpoint(again.store.conn) == (4, 2)
        again.store.close()
