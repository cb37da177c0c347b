"""The hold-back contract as a property: whatever the timing of retractions,
an event is acted on exactly when no retraction came inside its window, and
compensated exactly when it was acted on and then retracted."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku import Codec, Recorded, Registry, event
from kiroku.corrections import (
    EventRetracted,
    HoldBackRunner,
    ManualClock,
    RetractionService,
    SQLiteHoldStore,
)
from kiroku.journal import MemoryJournal

REG = Registry([EventRetracted])
CODEC = Codec(REG)
T0 = datetime(2030, 1, 1, tzinfo=UTC)
HOUR, DAY = timedelta(hours=1), timedelta(hours=24)


@event("test.prop.Charged", registry=REG)
@dataclass(frozen=True, slots=True)
class Charged:
    amount: int


@dataclass
class Payments:
    hold: timedelta = DAY
    name: str = "payments"
    handles: tuple[type, ...] = (Charged,)
    acted: list[int] = field(default_factory=list)
    compensated: list[int] = field(default_factory=list)

    async def act(self, event: Recorded[object]) -> None:
        self.acted.append(event.position)

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        self.compensated.append(original.position)


plans = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.dictionaries(st.integers(0, n - 1), st.integers(0, 48), max_size=n),
    )
)


@settings(max_examples=30, deadline=None)
@given(plans)
async def test_acted_and_compensated_exactly_as_the_window_says(
    plan: tuple[int, dict[int, int]],
) -> None:
    n, retract_after = plan  # event index -> hours after it occurred
    journal, clock, consumer = MemoryJournal(), ManualClock(T0), Payments()
    positions = []
    for i in range(n):
        new = CODEC.encode(Charged(i), occurred_at=T0 + i * HOUR)
        positions.append((await journal.append(f"order-{i}", 0, [new])).position)
    service = RetractionService(journal, clock=clock)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteHoldStore(Path(tmp) / "holds.db")
        run = HoldBackRunner(consumer, journal, CODEC, store, clock=clock)
        try:
            await run.step()
            for i, hours in sorted(retract_after.items(), key=lambda kv: kv[0] + kv[1]):
                clock.set(T0 + (i + hours) * HOUR)
                await run.step()  # whatever is due by now is released first
                await service.retract(positions[i], reason="property", by="hypothesis")
            clock.advance(10 * DAY)
            await run.step()
            await run.step()
        finally:
            store.close()
    acted = [p for i, p in enumerate(positions) if i not in retract_after or retract_after[i] >= 24]
    assert consumer.acted == acted
    compensated = sorted(positions[i] for i, h in retract_after.items() if h >= 24)
    assert sorted(consumer.compensated) == compensated
