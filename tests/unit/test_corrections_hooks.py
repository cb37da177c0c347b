"""The hooks other parts call: compensation declarations, retraction pairs,
snapshot invalidation and recovery exclusion."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from kiroku import Codec, MemoryJournal, Recorded, Registry, event
from kiroku.corrections import (
    Compensation,
    EventRetracted,
    RecoveryView,
    RetractionService,
    compensation_of,
    exclude_retracted,
    handles_retraction,
    recovery_view,
    retraction_pair,
    snapshot_predates_retraction,
)
from kiroku.errors import RegistrationError

REG = Registry([EventRetracted])
CODEC = Codec(REG)


@event("t.hooks.Added", registry=REG)
@dataclass(frozen=True, slots=True)
class Added:
    n: int


class WithHandler:
    seen: ClassVar[list[int]] = []

    @handles_retraction
    async def undo(
        self, tx: object, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        self.seen.append(original.position)


class WithRebuild:
    on_retraction = "rebuild"


class Both(WithHandler):
    on_retraction = "rebuild"


class TwoHandlers(WithHandler):
    @handles_retraction
    async def undo_again(
        self, tx: object, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        return None


async def test_a_consumer_declares_how_it_compensates() -> None:
    kind, handler = compensation_of(WithHandler())
    assert kind is Compensation.HANDLER
    assert handler is not None
    assert compensation_of(WithRebuild()) == (Compensation.REBUILD, None)
    assert compensation_of(object()) == (Compensation.NONE, None)
    with pytest.raises(RegistrationError, match="both"):
        compensation_of(Both())
    with pytest.raises(RegistrationError, match="2 retraction handlers"):
        compensation_of(TwoHandlers())


def test_a_retraction_handler_must_be_async() -> None:
    def sync(self: object) -> None:
        return None

    with pytest.raises(RegistrationError, match="async"):
        handles_retraction(sync)  # type: ignore[type-var]


async def add(journal: MemoryJournal, n: int) -> int:
    version = await journal.stream_version("counter-1")
    return (await journal.append("counter-1", version, [CODEC.encode(Added(n))])).position


async def test_a_handler_is_called_with_the_decoded_pair() -> None:
    journal = MemoryJournal()
    pos = await add(journal, 5)
    report = await RetractionService(journal).retract(pos, reason="r", by="me")
    pair = await retraction_pair(journal, CODEC, report.retraction)
    assert pair.original.data == Added(5)
    assert pair.retraction.data.retracted_position == pos
    _, handler = compensation_of(WithHandler())
    assert handler is not None
    await handler(None, pair.retraction, pair.original)
    assert WithHandler.seen[-1] == pos
    with pytest.raises(ValueError, match="not a retraction"):
        await retraction_pair(journal, CODEC, report.original)


async def test_recovery_folds_only_unretracted_events_and_drops_stale_snapshots() -> None:
    journal = MemoryJournal()
    for n in (1, 10, 100):
        await add(journal, n)
    await RetractionService(journal).retract(2, reason="r", by="me")
    stream = await journal.read_stream("counter-1")
    kept = exclude_retracted(stream)
    total = 0
    for stored in kept:
        data = CODEC.decode(stored).data
        assert isinstance(data, Added)
        total += data.n
    assert total == 101
    assert stream[-1].version == 4  # the next append still expects the stream's real version
    assert snapshot_predates_retraction(stream[2:])  # a snapshot at v2 folded in the voided event
    assert not snapshot_predates_retraction(stream[1:])  # one at v1 did not
    assert not snapshot_predates_retraction([])


async def test_the_recovery_view_says_what_to_fold_and_when_to_start_over() -> None:
    journal = MemoryJournal()
    for n in (1, 10, 100):
        await add(journal, n)
    await RetractionService(journal).retract(2, reason="r", by="me")
    stream = await journal.read_stream("counter-1")
    full = recovery_view(stream, 0)
    assert ([e.position for e in full.fold], full.version, full.restart) == ([1, 3], 4, False)
    after_snapshot_at_2 = recovery_view(stream[2:], 2)
    assert after_snapshot_at_2.restart
    assert after_snapshot_at_2.version == 4
    assert recovery_view([], 7) == RecoveryView([], 7, False)
