"""Events and projections shared by the read-side tests."""

from __future__ import annotations

from dataclasses import dataclass

from kiroku import JSON, Codec, MemoryJournal, Recorded, Registry, event, upcaster
from kiroku.journal.protocol import ANY
from kiroku.projections import Projection, Tx, handles

REGISTRY = Registry()


@event("test.Opened", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Opened:
    title: str


@event("test.Noted", version=2, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str
    weight: int = 1


@event("test.Ignored", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Ignored:
    why: str


@upcaster("test.Noted", from_version=1, registry=REGISTRY)
def _noted_v1(data: dict[str, JSON]) -> dict[str, JSON]:
    return {"text": data["body"], "weight": 1}


CODEC = Codec(REGISTRY)


class Boards(Projection):
    """One document per stream: title, notes in order, a running total."""

    name = "test.boards"
    indexes = {"boards": ["title", ("total", "title")]}

    @handles(Opened)
    async def opened(self, tx: Tx, e: Recorded[Opened]) -> None:
        await tx.collection("boards").put(
            e.stream_id, {"title": e.data.title, "notes": [], "total": 0, "version": e.version}
        )

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        boards = tx.collection("boards")
        doc = await boards.get(e.stream_id) or {"title": None, "notes": [], "total": 0}
        notes = doc["notes"]
        assert isinstance(notes, list)
        total = doc["total"]
        assert isinstance(total, int)
        await boards.put(
            e.stream_id,
            {
                **doc,
                "notes": [*notes, e.data.text],
                "total": total + e.data.weight,
                "version": e.version,
            },
        )


class Notes(Projection):
    """One document per note, keyed by its position: delivering it again changes nothing."""

    name = "test.notes"
    replay_safe = True

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.collection("notes").put(str(e.position), {"text": e.data.text})


class Counts(Projection):
    """Counts notes per stream in a plain SQL table."""

    name = "test.counts"

    async def setup(self, tx: Tx) -> None:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS note_counts (stream TEXT PRIMARY KEY, n INTEGER)"
        )

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.execute(
            "INSERT INTO note_counts VALUES (?, 1) ON CONFLICT(stream) DO UPDATE SET n = n + 1",
            (e.stream,),
        )


async def append(journal: MemoryJournal, stream: str, *events: object) -> int:
    result = await journal.append(stream, ANY, CODEC.encode_all(list(events)))
    return result.position
