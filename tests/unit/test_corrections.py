"""Retraction rules, the window, the clock and the exclusion filters."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiroku.corrections import (
    RETRACTED_TYPE,
    CompensationWindow,
    EventRetracted,
    ManualClock,
    RetractionReport,
    RetractionService,
    exclude_retracted,
    parse_duration,
    parse_retraction,
    retracted_positions,
    without_retracted,
)
from kiroku.domain.envelope import StoredEvent
from kiroku.errors import (
    ConfigError,
    EventNotFoundError,
    InputError,
    RetractionRefusedError,
)
from kiroku.journal import MemoryJournal
from kiroku.schema import Codec, Registry, event

REG = Registry([EventRetracted])
T0 = datetime(2030, 1, 1, tzinfo=UTC)


@event("test.corr.Noted", registry=REG)
@dataclass(frozen=True, slots=True)
class Noted:
    text: str


CODEC = Codec(REG)


async def note(journal: MemoryJournal, stream: str, text: str, at: datetime = T0) -> int:
    result = await journal.append(
        stream, await journal.stream_version(stream), [CODEC.encode(Noted(text), occurred_at=at)]
    )
    return result.position


def service(journal: MemoryJournal, clock: ManualClock) -> RetractionService:
    return RetractionService(journal, clock=clock, window=CompensationWindow(timedelta(hours=24)))


# -- the window and the clock -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", timedelta(hours=24)),
        ("90m", timedelta(minutes=90)),
        ("1d12h", timedelta(hours=36)),
        ("30s", timedelta(seconds=30)),
        (" 2 H ", timedelta(hours=2)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "24", "h", "1x", "-1h", "1h junk"])
def test_bad_durations_name_the_input(text: str) -> None:
    with pytest.raises(ConfigError, match="Invalid duration"):
        parse_duration(text)


def test_window_defaults_to_a_day_and_reads_the_environment() -> None:
    assert CompensationWindow.from_env({}).length == timedelta(hours=24)
    window = CompensationWindow.from_env({"KIROKU_COMPENSATION_WINDOW": "15m"})
    assert window.length == timedelta(minutes=15)
    assert not window.is_late(T0, T0 + timedelta(minutes=15))
    assert window.is_late(T0, T0 + timedelta(minutes=15, microseconds=1))
    with pytest.raises(ConfigError, match="negative"):
        CompensationWindow(timedelta(seconds=-1))


async def test_manual_clock_wakes_a_sleeper_only_at_its_deadline() -> None:
    clock = ManualClock(T0)
    wake = asyncio.Event()
    sleeper = asyncio.create_task(clock.sleep_until(T0 + timedelta(hours=1), wake))
    await asyncio.sleep(0)
    clock.advance(timedelta(minutes=59))
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(timedelta(minutes=1))
    await asyncio.wait_for(sleeper, 5)
    with pytest.raises(ValueError, match="forward"):
        clock.advance(timedelta(seconds=-1))


# -- retraction rules ------------------------------------------------------------


async def test_retraction_lands_in_the_original_stream_and_says_who_why_when() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0 + timedelta(hours=1))
    pos = await note(journal, "memo-1", "wrong")
    report = await service(journal, clock).retract(pos, reason="typo", by="ops@example")
    assert report.retraction.stream == "memo-1"
    assert report.retraction.version == 2
    assert report.retraction.causation_id == str(report.original.event_id)
    body = parse_retraction(report.retraction)
    assert body == EventRetracted(
        retracted_position=pos,
        retracted_event_id=str(report.original.event_id),
        original_type="test.corr.Noted",
        reason="typo",
        retracted_by="ops@example",
        retracted_at=T0 + timedelta(hours=1),
        late=False,
    )
    assert not report.late
    assert report.window_closed_at == T0 + timedelta(hours=24)


@pytest.mark.parametrize("form", ["position-text", "uuid", "uuid-text"])
async def test_events_are_found_by_position_or_id(form: str) -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    pos = await note(journal, "memo-1", "x")
    eid = (await journal.get_event(pos)).event_id
    ref: object = {"position-text": str(pos), "uuid": eid, "uuid-text": str(eid)}[form]
    assert isinstance(ref, str | uuid.UUID)
    report = await service(journal, clock).retract(ref, reason="r", by="me")
    assert report.original.position == pos


async def test_bad_retractions_append_nothing() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    svc = service(journal, clock)
    pos = await note(journal, "memo-1", "x")
    with pytest.raises(EventNotFoundError, match="99"):
        await svc.retract(99, reason="r", by="me")
    with pytest.raises(EventNotFoundError):
        await svc.retract(uuid.uuid4(), reason="r", by="me")
    with pytest.raises(InputError, match="neither a position nor an event id"):
        await svc.retract("nonsense", reason="r", by="me")
    with pytest.raises(InputError, match="needs a reason"):
        await svc.retract(pos, reason="  ", by="me")
    assert await journal.head_position() == pos
    first = await svc.retract(pos, reason="r", by="me")
    with pytest.raises(
        RetractionRefusedError, match=f"already retracted at position {first.retraction.position}"
    ):
        await svc.retract(pos, reason="again", by="me")
    with pytest.raises(RetractionRefusedError, match="system event"):
        await svc.retract(first.retraction.position, reason="undo", by="me")
    assert await journal.head_position() == first.retraction.position


async def test_concurrent_retractions_of_one_event_let_exactly_one_through() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    svc = service(journal, clock)
    pos = await note(journal, "memo-1", "x")
    outcomes = await asyncio.gather(
        *(svc.retract(pos, reason=f"r{i}", by="me") for i in range(4)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(
        isinstance(o, RetractionRefusedError) for o in outcomes if isinstance(o, BaseException)
    )
    assert await journal.stream_version("memo-1") == 2


async def test_a_retraction_after_the_window_is_written_and_flagged_late() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    pos = await note(journal, "memo-1", "x")
    clock.advance(timedelta(hours=24, seconds=1))
    report = await service(journal, clock).retract(pos, reason="found late", by="me")
    assert report.late
    body = parse_retraction(report.retraction)
    assert body is not None
    assert body.late


async def test_listeners_hear_each_retraction_once() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    heard: list[int] = []

    async def refresh(report: RetractionReport) -> None:
        heard.append(report.original.position)

    svc = RetractionService(journal, clock=clock, listeners=[refresh])
    pos = await note(journal, "memo-1", "x")
    await svc.retract(pos, reason="r", by="me")
    assert heard == [pos]


# -- exclusion --------------------------------------------------------------------


def _stored(position: int, stream: str, version: int, type_: str, data: bytes) -> StoredEvent:
    return StoredEvent(
        position=position,
        stream=stream,
        version=version,
        type=type_,
        schema_version=1,
        data=data,
        event_id=uuid.uuid4(),
        occurred_at=T0,
        correlation_id=None,
        causation_id=None,
        metadata={},
    )


def _history(n: int, voided: set[int]) -> list[StoredEvent]:
    events = [_stored(i, "memo-1", i, "test.corr.Noted", b'{"text":"x"}') for i in range(1, n + 1)]
    for target in sorted(voided):
        body = EventRetracted(target, "id", "test.corr.Noted", "r", "me", T0)
        nxt = len(events) + 1
        events.append(_stored(nxt, "memo-1", nxt, RETRACTED_TYPE, CODEC.encode(body).data))
    return events


@given(st.integers(1, 30).flatmap(lambda n: st.tuples(st.just(n), st.sets(st.integers(1, n)))))
def test_recovery_sees_exactly_the_unretracted_events(case: tuple[int, set[int]]) -> None:
    n, voided = case
    kept = exclude_retracted(_history(n, voided))
    assert [e.position for e in kept] == [p for p in range(1, n + 1) if p not in voided]


async def test_a_rebuild_pass_skips_retracted_events_and_retractions() -> None:
    journal, clock = MemoryJournal(), ManualClock(T0)
    positions = [await note(journal, f"memo-{i % 2}", f"n{i}") for i in range(6)]
    svc = service(journal, clock)
    await svc.retract(positions[1], reason="r", by="me")
    await svc.retract(positions[4], reason="r", by="me")
    voided = await retracted_positions(journal, batch_size=3)
    assert voided == {positions[1], positions[4]}
    kept = without_retracted(await journal.read_all(0), voided)
    texts = [CODEC.decode(e).data for e in kept]
    assert texts == [Noted(f"n{i}") for i in (0, 2, 3, 5)]
