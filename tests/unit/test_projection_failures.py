"""Failure policy: retry with backoff, park, stop or continue; retry and skip on the record."""

from __future__ import annotations

import uuid

import pytest
from kits.domain import Boards, Counts, Noted, Opened, append
from kits.hosts import HostMaker

from kiroku import (
    ANY,
    HandlerError,
    InputError,
    MemoryJournal,
    NewEvent,
    ParkedEventError,
    Recorded,
)
from kiroku.projections import (
    FailurePolicy,
    Outcome,
    ProjectionHost,
    RunnerState,
    Tx,
    handles,
)


class Fragile(Boards):
    """Boards, except that notes saying 'poison' fail until ``healed``."""

    name = "test.fragile"
    healed = False
    calls = 0

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        if e.data.text == "poison":
            type(self).calls += 1
        if e.data.text == "poison" and not type(self).healed:
            raise ValueError(f"cannot digest {e.data.text!r}")
        await Boards.noted(self, tx, e)


class Sloppy(Boards):
    name = "test.sloppy"

    @handles(Noted)
    async def noted(self, tx: Tx, e: Recorded[Noted]) -> None:
        return 42  # type: ignore[return-value]


@pytest.fixture(autouse=True)
def _sick() -> None:
    Fragile.healed = False
    Fragile.calls = 0


FAST = FailurePolicy(attempts=3, backoff=0.001)


def host_for(make_host: HostMaker, journal: MemoryJournal, on_exhausted: str) -> ProjectionHost:
    policy = FailurePolicy(attempts=3, backoff=0.001, on_exhausted=on_exhausted)  # type: ignore[arg-type]
    return make_host(journal, Fragile(), Counts(), default_policy=policy)


async def notes(host: ProjectionHost, board: str) -> object:
    doc = await host.reader("test.fragile").collection("boards").get(board)
    return None if doc is None else doc["notes"]


async def test_stop_parks_the_event_and_stops_before_it(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("ok"))
    poison = await append(journal, "board-1", Noted("poison"))
    last = await append(journal, "board-2", Opened("b"), Noted("fine"))
    host = host_for(make_host, journal, "stop")
    await host.catch_up()
    runner = host.runner("test.fragile")
    assert runner.state is RunnerState.FAILED
    assert runner.position == poison - 1
    assert Fragile.calls == 3  # three attempts in all
    [parked] = host.parked("test.fragile")
    assert (parked.position, parked.kind, parked.attempts) == (poison, "failed", 3)
    assert "ValueError: cannot digest 'poison'" in parked.error
    assert "Traceback" in parked.traceback
    assert await notes(host, "2") is None  # nothing after it was applied
    assert host.runner("test.counts").position == last  # other projections proceed
    with pytest.raises(ParkedEventError, match="stopped at position 3"):
        await runner.wait_for(last, timeout=1)
    assert {s.name: s.parked for s in await host.status()} == {
        "test.fragile": 1,
        "test.counts": 0,
    }
    Fragile.healed = True
    await host.retry("test.fragile", parked.id)
    await runner.run(follow=False)
    assert runner.position == last
    assert await notes(host, "1") == ["ok", "poison"]
    assert await notes(host, "2") == ["fine"]
    assert host.parked("test.fragile") == []
    [resolved] = host.parked("test.fragile", include_resolved=True)
    assert resolved.status == "retried"
    await host.close()


async def test_continue_holds_back_the_stream_and_applies_the_rest(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"))
    poison = await append(journal, "board-1", Noted("poison"))
    held = await append(journal, "board-1", Noted("after"))
    await append(journal, "board-2", Opened("b"), Noted("fine"))
    host = host_for(make_host, journal, "continue")
    await host.catch_up()
    runner = host.runner("test.fragile")
    assert runner.state is RunnerState.STOPPED
    assert runner.position == await journal.head_position()
    assert await notes(host, "1") == []
    assert await notes(host, "2") == ["fine"]
    kinds = {p.position: p.kind for p in host.parked()}
    assert kinds == {poison: "failed", held: "held"}
    status = {s.name: s for s in await host.status()}
    assert status["test.fragile"].parked == 2
    assert status["test.counts"].parked == 0
    failed = next(p for p in host.parked() if p.kind == "failed")
    with pytest.raises(InputError, match="needs a reason"):
        await host.skip("test.fragile", failed.id, "  ")
    await host.skip("test.fragile", failed.id, "garbage from a producer bug", by="ops")
    assert await notes(host, "1") == ["after"]  # the held event followed, in order
    assert host.parked() == []
    _, entries = await host.ledger(poison)
    entry = next(e for e in entries if e.projection == "test.fragile")
    assert entry.outcome is Outcome.SKIPPED
    assert entry.detail == "skipped by ops: garbage from a producer bug"
    _, entries = await host.ledger(held)
    assert next(e for e in entries if e.projection == "test.fragile").outcome is Outcome.APPLIED
    await host.close()


async def test_a_retry_that_fails_again_stays_parked_and_says_so(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("poison"))
    host = host_for(make_host, journal, "continue")
    await host.catch_up()
    [parked] = host.parked()
    with pytest.raises(HandlerError, match=r"retry of test\.fragile:1 failed"):
        await host.retry("test.fragile", parked.id)
    [still] = host.parked()
    assert still.attempts == 4
    await host.skip("test.fragile", parked.id, "r")
    with pytest.raises(InputError, match="already skipped"):
        await host.skip("test.fragile", parked.id, "r")
    await host.close()


async def test_a_handler_returning_a_value_is_parked_as_a_handler_error(
    make_host: HostMaker,
) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"), Noted("n"))
    host = make_host(journal, Sloppy(), default_policy=FAST)
    await host.catch_up()
    [parked] = host.parked()
    assert "returned int; handlers must return None" in parked.error
    assert host.runner("test.sloppy").position == 1


async def test_undecodable_events_are_parked_with_the_reason(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    await append(journal, "board-1", Opened("a"))
    future = NewEvent(type="test.Noted", schema_version=9, data=b'{"text": "x"}')
    garbled = NewEvent(type="test.Noted", schema_version=2, data=b'{"text": 5}')
    await journal.append("board-1", ANY, [future])
    await journal.append("board-2", ANY, [garbled])
    policy = FailurePolicy(attempts=1, on_exhausted="continue")
    host = make_host(journal, Boards(), default_policy=policy)
    await host.catch_up()
    errors = sorted(p.error for p in host.parked())
    assert errors[0].startswith("DecodeError: Cannot decode 'test.Noted' v2 at position 3")
    assert errors[1].startswith("FutureSchemaVersionError: Event 'test.Noted' at position 2")


async def test_unknown_ids_and_bad_refs_are_clear_errors(make_host: HostMaker) -> None:
    journal = MemoryJournal()
    host = make_host(journal, Boards())
    from kiroku import EventNotFoundError, NotFoundError, ProjectionNotFoundError

    with pytest.raises(ProjectionNotFoundError, match=r"'nope'.*known: test\.boards"):
        host.runner("nope")
    with pytest.raises(NotFoundError, match="no parked event #9"):
        await host.retry("test.boards", 9)
    with pytest.raises(EventNotFoundError):
        await host.ledger(uuid.uuid4())
