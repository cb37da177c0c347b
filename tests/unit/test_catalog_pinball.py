"""The pinball guard on the runtime: a ping-pong flow stopped at the depth limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kiroku import Codec, Decider, MemoryJournal, Registry, event
from kiroku.catalog import (
    PinballGuard,
    ProcessManager,
    ProcessManagerRunner,
    Send,
    build_catalog,
    depth_of,
)
from kiroku.domain.envelope import Recorded
from kiroku.runtime import Runtime

REG = Registry()


@event("t.ping.Pinged", registry=REG)
@dataclass(frozen=True, slots=True)
class Pinged:
    n: int


@event("t.pong.Ponged", registry=REG)
@dataclass(frozen=True, slots=True)
class Ponged:
    n: int


@dataclass(frozen=True, slots=True)
class Ping:
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    n: int


@dataclass(frozen=True, slots=True)
class Count:
    n: int = 0


class Pinger(Decider[Count, Ping, Pinged]):
    category = "ping"
    initial = Count()

    def decide(self, command: Ping, state: Count) -> Sequence[Pinged]:
        return [Pinged(command.n)]

    def evolve(self, state: Count, event: Pinged) -> Count:
        return Count(event.n)


class Ponger(Decider[Count, Pong, Ponged]):
    category = "pong"
    initial = Count()

    def decide(self, command: Pong, state: Count) -> Sequence[Ponged]:
        return [Ponged(command.n)]

    def evolve(self, state: Count, event: Ponged) -> Count:
        return Count(event.n)


class Answer(ProcessManager):
    """Every ping is answered by a pong and every pong by a ping: it never ends."""

    name = "answer"
    handles = (Pinged, Ponged)
    sends = (Ping, Pong)
    allow_cycle = True

    async def react(self, event: Recorded[object]) -> Sequence[Send]:
        if isinstance(event.data, Pinged):
            return [Send(Ponger, "1", Pong(event.data.n + 1))]
        if isinstance(event.data, Ponged):
            return [Send(Pinger, "1", Ping(event.data.n + 1))]
        return []


async def test_a_chain_beyond_the_depth_limit_is_stopped_and_reported() -> None:
    build_catalog(REG, [Pinger, Ponger], [Answer()]).check()  # allowed at start-up
    journal, codec = MemoryJournal(), Codec(REG)
    guard = PinballGuard(max_depth=5)
    async with Runtime(journal, [Pinger, Ponger], codec=codec) as runtime:
        runner = ProcessManagerRunner(Answer(), runtime, guard)
        await runtime.execute(Pinger, "1", Ping(0))
        after, reactions = 0, []
        while batch := await journal.read_all(after):
            for stored in batch:
                reactions.append(await runner.handle(codec.decode(stored)))
            after = batch[-1].position
    events = [codec.decode(s) for s in await journal.read_all(0)]
    assert [depth_of(e.metadata) for e in events] == [0, 1, 2, 3, 4, 5]
    assert [r.stopped for r in reactions] == [False] * 5 + [True]
    (stop,) = guard.stopped
    assert (stop.consumer, stop.position, stop.depth) == ("answer", 6, 6)
    assert stop.chain == (
        "t.ping.Pinged@1",
        "t.pong.Ponged@2",
        "t.ping.Pinged@3",
        "t.pong.Ponged@4",
        "t.ping.Pinged@5",
        "t.pong.Ponged@6",
    )
    assert events[3].causation_id == str(events[2].event_id)
    assert {e.correlation_id for e in events[1:]} == {str(events[0].event_id)}


async def test_a_redelivered_event_sends_nothing_twice() -> None:
    journal, codec = MemoryJournal(), Codec(REG)
    async with Runtime(journal, [Pinger, Ponger], codec=codec) as runtime:
        runner = ProcessManagerRunner(Answer(), runtime, PinballGuard(max_depth=1))
        await runtime.execute(Pinger, "1", Ping(0))
        first = codec.decode(await journal.get_event(1))
        await runner.handle(first)
        await runner.handle(first)
    assert await journal.head_position() == 2
