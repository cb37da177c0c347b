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

    @handles(Opened)
    async def opened(self, tx: Tx, e: Recorded[Opened]) -> None:
        await tx.collection("boards").put(e.stream_id, {"title": e.data.title, "notes": 0})

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        await tx.collection("boards").patch(e.stream_id, {"last": e.data.text}, upsert=True)


class Picky(Projection):
    """Refuses notes that say 'poison'."""

    name = "cli.picky"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if e.data.text == "poison":
            raise ValueError("poison is not a note")
        await tx.collection("notes").put(str(e.position), {"text": e.data.text})


app = App(
    "cli-test",
    REGISTRY,
    projections=[Boards(), Picky()],
    policies={"cli.picky": FailurePolicy(attempts=1, on_exhausted="continue")},
)
