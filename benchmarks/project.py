"""The read side, side by side: kiroku's projection runner and the eventsourcing library's.

    python -m benchmarks.project            # the full run recorded in RESULTS.md
    python -m benchmarks.project --quick    # a smoke run (seconds)

Workload: boards of 100 events each (one "created", then "noted" events). Both
contenders project every "noted" event into a document read model in SQLite —
one JSON document per note, keyed by stream and version — with the checkpoint
written in the same transaction as the document.

1. Catch-up: the journal is filled first, then the projection starts from zero
   and the clock runs until it has processed the last event.
2. Rebuild: kiroku's zero-downtime rebuild (shadow store + swap) of a larger
   journal: measured on ``--rebuild-events`` events (1,000,000 in the full run).
3. Lag: one append every 2 ms; the time from ``append`` returning to the read
   model showing the event. kiroku is pushed (``wait_for`` wakes on the commit);
   eventsourcing is probed every 0.2 ms with ``has_tracking_id`` (its own ``wait``
   polls from 100 ms up, which would measure the poll, not the projection).

eventsourcing uses its documented projection API: a ``Projection`` with
``process_event``, a view subclassing ``SQLiteTrackingRecorder`` that writes the
row and ``_insert_tracking`` in one transaction, run by its ``ProjectionRunner``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from functools import singledispatchmethod
from pathlib import Path
from typing import Any, ClassVar

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.domain import event as es_event
from eventsourcing.persistence import ApplicationRecorder, Tracking
from eventsourcing.projection import Projection as EsProjection
from eventsourcing.projection import ProjectionRunner as EsRunner
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import get_topic

from kiroku import Codec, Recorded, Registry, event
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import (
    Projection,
    ProjectionHost,
    ProjectionRunner,
    ProjectionStore,
    Tx,
    handles,
)

PER_BOARD = 100
REGISTRY = Registry()
_json = msgspec.json.Encoder()


# -- kiroku -------------------------------------------------------------------


@event("bench.BoardCreated", registry=REGISTRY)
class BoardCreated(msgspec.Struct, frozen=True):
    title: str


@event("bench.Noted", registry=REGISTRY)
class Noted(msgspec.Struct, frozen=True):
    text: str
    n: int


class Notes(Projection):
    name = "bench.notes"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.collection("notes").put(
            f"{e.stream_id}:{e.version}", {"board": e.stream_id, "text": e.data.text, "n": e.data.n}
        )


def board_events(board: int) -> list[object]:
    return [BoardCreated(f"board {board}")] + [
        Noted(f"note {i} on board {board}", i) for i in range(1, PER_BOARD)
    ]


async def fill_kiroku(path: Path, events: int) -> SQLiteJournal:
    """Boards appended 50 at a time concurrently, so group commit keeps the fill short."""
    codec = Codec(REGISTRY)
    journal = await SQLiteJournal.open(path)
    boards = events // PER_BOARD
    for start in range(0, boards, 50):
        await asyncio.gather(
            *(
                journal.append(f"board-{b}", ANY, codec.encode_all(board_events(b)))
                for b in range(start, min(start + 50, boards))
            )
        )
    return journal


async def kiroku_catch_up(directory: Path, events: int) -> float:
    journal = await fill_kiroku(directory / "journal.db", events)
    store = ProjectionStore(directory / "notes.db", Notes.name)
    runner = ProjectionRunner(Notes(), journal, store, codec=Codec(REGISTRY), batch_size=2000)
    await runner.open()
    started = time.perf_counter()
    await runner.run(follow=False)
    elapsed = time.perf_counter() - started
    assert runner.position == events, (runner.position, events)
    store.close()
    await journal.close()
    return events / elapsed


async def kiroku_rebuild(directory: Path, events: int) -> tuple[float, float]:
    """Seconds and events/s of a zero-downtime rebuild (the old generation serving)."""
    journal = await fill_kiroku(directory / "journal.db", events)
    host = ProjectionHost(journal, [Notes()], directory, codec=Codec(REGISTRY), batch_size=2000)
    started = time.perf_counter()
    runner = await host.rebuild(Notes.name)
    elapsed = time.perf_counter() - started
    assert runner.position == events
    await host.close()
    await journal.close()
    return elapsed, events / elapsed


async def kiroku_lag(directory: Path, samples: int) -> list[float]:
    codec = Codec(REGISTRY)
    journal = await SQLiteJournal.open(directory / "lag.db")
    host = ProjectionHost(journal, [Notes()], directory / "lag-read", codec=codec)
    await host.start()
    runner = host.runner(Notes.name)
    lags: list[float] = []
    await journal.append("board-lag", ANY, [codec.encode(BoardCreated("lag"))])
    for i in range(samples):
        tick = time.perf_counter()
        result = await journal.append("board-lag", ANY, [codec.encode(Noted("x", i))])
        appended = time.perf_counter()
        await runner.wait_for(result.position, timeout=10)
        lags.append(time.perf_counter() - appended)
        await asyncio.sleep(max(0.0, 0.002 - (time.perf_counter() - tick)))
    await host.close()
    await journal.close()
    return lags


# -- eventsourcing --------------------------------------------------------------


class EsBoard(Aggregate):
    @es_event("Created")
    def __init__(self, title: str) -> None:
        self.title = title

    @es_event("Noted")
    def note(self, text: str, n: int) -> None:
        pass


class EsBoards(Application[uuid.UUID]):
    """eventsourcing's SQLite application recorder cannot be subscribed to, so its
    projection runner needs the in-memory (POPO) recorder; the runner builds its own
    application, and ``shared`` lets it read the one the benchmark filled."""

    shared: ClassVar[ApplicationRecorder | None] = None

    def construct_recorder(self) -> ApplicationRecorder:
        return self.shared if self.shared is not None else super().construct_recorder()


class EsNotesView(SQLiteTrackingRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, doc TEXT NOT NULL) "
            "WITHOUT ROWID",
        ]

    def put_note(self, doc_id: str, doc: bytes, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "INSERT INTO notes VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET doc = excluded.doc",
                (doc_id, doc.decode()),
            )
            self._insert_tracking(c, tracking)


class EsNotes(EsProjection[EsNotesView]):
    name = "notes"
    topics = (get_topic(EsBoard.Noted),)  # type: ignore[attr-defined]

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: EsBoard.Noted, tracking: Tracking) -> None:  # type: ignore[name-defined]
        board = str(domain_event.originator_id)
        doc = {"board": board, "text": domain_event.text, "n": domain_event.n}
        self.view.put_note(
            f"{board}:{domain_event.originator_version}", _json.encode(doc), tracking
        )


def es_env(directory: Path) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.popo",
        "NOTES_PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "NOTES_SQLITE_DBNAME": str(directory / "es-notes.db"),
    }


def es_fill(env: dict[str, str], events: int) -> int:
    EsBoards.shared = None
    app = EsBoards(env=env)
    EsBoards.shared = app.recorder
    last = 0
    for b in range(events // PER_BOARD):
        board = EsBoard(f"board {b}")
        for i in range(1, PER_BOARD):
            board.note(text=f"note {i} on board {b}", n=i)
        recordings = app.save(board)
        last = recordings[-1].notification.id
    return last


def es_wait(view: EsNotesView, app_name: str, notification_id: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not view.has_tracking_id(app_name, notification_id):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"eventsourcing did not reach {notification_id} in {timeout}s")
        time.sleep(0.0002)


def es_catch_up(directory: Path, events: int) -> float:
    env = es_env(directory)
    last = es_fill(env, events)
    started = time.perf_counter()
    with EsRunner(
        application_class=EsBoards, projection_class=EsNotes, view_class=EsNotesView, env=env
    ) as runner:
        es_wait(runner.projection.view, runner.app.name, last, timeout=3600)
        elapsed = time.perf_counter() - started
    return events / elapsed


def es_lag(directory: Path, samples: int) -> list[float]:
    env = es_env(directory)
    EsBoards.shared = None
    lags: list[float] = []
    with EsRunner(
        application_class=EsBoards, projection_class=EsNotes, view_class=EsNotesView, env=env
    ) as runner:
        board = EsBoard("lag")
        runner.app.save(board)
        for i in range(samples):
            tick = time.perf_counter()
            board.note(text="x", n=i)
            [recording] = runner.app.save(board)
            appended = time.perf_counter()
            es_wait(runner.projection.view, runner.app.name, recording.notification.id, 10)
            lags.append(time.perf_counter() - appended)
            time.sleep(max(0.0, 0.002 - (time.perf_counter() - tick)))
    return lags


# -- the run ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args()
    events = 10_000 if args.quick else 100_000
    rebuild_events = 20_000 if args.quick else 1_000_000
    samples = 200 if args.quick else 2_000
    with tempfile.TemporaryDirectory(prefix="kiroku-bench-") as tmp:
        root = Path(tmp)
        for name in ("k", "e", "r", "l", "el"):
            (root / name).mkdir()
        k_rate = asyncio.run(kiroku_catch_up(root / "k", events))
        e_rate = es_catch_up(root / "e", events)
        print(f"catch-up of {events:,} events into documents")
        print(f"  kiroku         {k_rate:>10,.0f} events/s")
        print(f"  eventsourcing  {e_rate:>10,.0f} events/s")
        print(f"  ratio          {k_rate / e_rate:>10.1f}x")
        seconds, r_rate = asyncio.run(kiroku_rebuild(root / "r", rebuild_events))
        print(
            f"rebuild (shadow + swap) of {rebuild_events:,} events: {seconds:.1f} s "
            f"({r_rate:,.0f} events/s; 1,000,000 at this rate: {1_000_000 / r_rate:.1f} s)"
        )
        k_lags = asyncio.run(kiroku_lag(root / "l", samples))
        e_lags = es_lag(root / "el", samples)
        print(f"lag from append to read model, {samples} appends at one per 2 ms")
        for name, lags in (("kiroku", k_lags), ("eventsourcing", e_lags)):
            p50, p99 = percentile(lags, 50) * 1000, percentile(lags, 99) * 1000
            print(f"  {name:<14} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms")


if __name__ == "__main__":
    main()
