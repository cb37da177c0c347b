"""An app of its own for the operations page's replay-safety tests, served by
``kiroku serve --app safety_app:app`` from this directory: ``ops.tally`` counts
(not replay-safe: Replay is refused and not offered), ``ops.notes`` declares itself
replay-safe but refuses a note it holds already, so a replay parks every event it
re-delivers. ``append_notes`` writes notes as another process would."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from kiroku import App, NewEvent, Recorded, Registry, event
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import FailurePolicy, Projection, Tx, handles

REGISTRY = Registry()


@event("ops.Noted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


class Tally(Projection):
    """Counts notes: a second delivery counts twice, so it is not replay-safe."""

    name = "ops.tally"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        totals = tx.collection("totals")
        doc = await totals.get("all")
        count = doc["count"] if doc is not None else 0
        assert isinstance(count, int)
        await totals.put("all", {"count": count + 1})


class Notes(Projection):
    """Declared replay-safe, but inserts: every redelivered note fails and is parked."""

    name = "ops.notes"
    replay_safe: ClassVar[bool] = True

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        notes = tx.collection("notes")
        if await notes.get(str(e.position)) is not None:
            raise RuntimeError(f"note {e.position} is there already")
        await notes.put(str(e.position), {"text": e.data.text})


app = App(
    "ops",
    REGISTRY,
    projections=[Tally(), Notes()],
    policies={"ops.notes": FailurePolicy(attempts=1, backoff=0.0, on_exhausted="continue")},
)


def append_notes(data_dir: Path, texts: list[str]) -> None:
    """Append one note per stream (none held behind another), beside the server."""

    async def append() -> None:
        journal = await SQLiteJournal.open(data_dir / "journal.db")
        try:
            for i, text in enumerate(texts):
                data = f'{{"text": "{text}"}}'.encode()
                await journal.append(f"note-{i}", ANY, [NewEvent("ops.Noted", 1, data)])
        finally:
            await journal.close()

    with ThreadPoolExecutor(1) as thread:  # the caller may be inside an event loop
        thread.submit(lambda: asyncio.run(append())).result()
