"""A till: sales, notes and a running total, for the tests of retractions and
the rebuilds they cause. Its registry knows ``EventRetracted``, as an
application's that retracts events must."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from kiroku import Codec, MemoryJournal, Recorded, Registry, event
from kiroku.corrections import EventRetracted
from kiroku.journal.protocol import ANY
from kiroku.projections import Projection, ProjectionHost, Tx, handles

__all__ = ["CODEC", "REGISTRY", "Noted", "Sold", "Total", "sell", "total"]

REGISTRY = Registry([EventRetracted])
CODEC = Codec(REGISTRY)


@event("till.Sold", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Sold:
    amount: int


@event("till.Noted", registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


class Total(Projection):
    """A running total, hard to undo piecemeal: compensated by a rebuild. A
    negative sale is a poisoned event: the handler raises on it."""

    name: ClassVar[str] = "total"
    on_retraction = "rebuild"

    @handles(Sold)
    async def sold(self, tx: Tx, r: Recorded[Sold]) -> None:
        if r.data.amount < 0:
            raise ValueError("a negative sale")
        col = tx.collection("total")
        doc = await col.get("all") or {"total": 0}
        total = doc["total"]
        assert isinstance(total, int)
        await col.put("all", {"total": total + r.data.amount})


async def sell(journal: MemoryJournal, stream: str, *events: object) -> int:
    """Append ``events`` to ``stream`` whatever its version; the last one's position."""
    return (await journal.append(stream, ANY, CODEC.encode_all(list(events)))).position


async def total(host: ProjectionHost) -> object:
    doc = await host.reader("total").collection("total").get("all")
    return None if doc is None else doc["total"]
