"""The application the command-line tests load with ``--app cli_app:app``."""

from __future__ import annotations

from dataclasses import dataclass

from kiroku import App, Recorded, Registry, event
from kiroku.projections import FailurePolicy, Projection, Tx, handles

REGISTRY = Registry()


@event("cli.Opened", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Opened:
    title: str


@event("cli.Noted", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


class Boards(Projection):
    name = "cli.boards"
    replay_safe = True  # put and patch by key

    @handles(Opened)
    async def opened(self, tx: Tx, e: Recorded[Opened]) -> None:
        await tx.collection("boards").put(e.stream_id, {"title": e.data.title, "notes": 0})

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.collection("boards").patch(e.stream_id, {"last": e.data.text}, upsert=True)


class Picky(Projection):
    """Refuses notes that say 'poison'."""

    name = "cli.picky"
    replay_safe = True  # one document per position

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if e.data.text == "poison":
            raise ValueError("poison is not a note")
        await tx.collection("notes").put(str(e.position), {"text": e.data.text})


class Tally(Projection):
    """Counts notes: a second delivery counts twice, so it is not replay-safe."""

    name = "cli.tally"

    async def setup(self, tx: Tx) -> None:
        await tx.execute("CREATE TABLE IF NOT EXISTS tally (n INTEGER NOT NULL)")

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.execute("INSERT INTO tally VALUES (1)")


app = App(
    "cli-test",
    REGISTRY,
    projections=[Boards(), Picky(), Tally()],
    policies={"cli.picky": FailurePolicy(attempts=1, on_exhausted="continue")},
)
