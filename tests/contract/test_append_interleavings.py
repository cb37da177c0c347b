"""Property: however concurrent appenders interleave, every stream's versions are
1..N with no duplicate and no gap, and exactly the acknowledged appends are stored.

Hypothesis draws the appenders (which stream, how many events, whether the
expected version is stale, how often each task yields to the others); the
same plans run against every backend.
"""

import asyncio
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku.errors import EventNotFoundError, WrongExpectedVersionError
from kiroku.journal import ANY, MemoryJournal
from kiroku.journal.protocol import AppendResult, ExpectedVersion, Journal
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.testing.journal_contract import new_events

STREAMS = ("acct-a", "acct-b", "acct-c")


@dataclass(frozen=True)
class Step:
    stream: int
    size: int
    expect: str  # "fresh": the version just read; "stale": one behind; "ahead"; "any"
    yields: int  # how many times to let other tasks run between reading and appending


steps = st.builds(
    Step,
    stream=st.integers(0, len(STREAMS) - 1),
    size=st.integers(1, 3),
    expect=st.sampled_from(["fresh", "fresh", "stale", "ahead", "any"]),
    yields=st.integers(0, 3),
)
plans = st.lists(st.lists(steps, min_size=1, max_size=6), min_size=2, max_size=6)


@dataclass
class Outcome:
    acked: list[tuple[AppendResult, list[uuid.UUID]]]
    refused: list[uuid.UUID]


async def _expected(journal: Journal, step: Step) -> ExpectedVersion:
    known = await journal.stream_version(STREAMS[step.stream])
    for _ in range(step.yields):
        await asyncio.sleep(0)
    choices: dict[str, ExpectedVersion] = {
        "fresh": known,
        "stale": max(known - 1, 0),
        "ahead": known + 1,
        "any": ANY,
    }
    return choices[step.expect]


async def _appender(journal: Journal, plan: list[Step], outcome: Outcome) -> None:
    for step in plan:
        events = new_events(step.size)
        ids = [e.event_id for e in events]
        expected = await _expected(journal, step)
        try:
            result = await journal.append(STREAMS[step.stream], expected, events)
        except WrongExpectedVersionError:
            outcome.refused.extend(ids)
        else:
            outcome.acked.append((result, ids))


async def _check(journal: Journal, outcome: Outcome) -> None:
    stored = await journal.read_all(0, limit=10_000)
    positions = [e.position for e in stored]
    assert positions == sorted(set(positions))
    for stream in STREAMS:
        versions = [e.version for e in stored if e.stream == stream]
        assert versions == list(range(1, len(versions) + 1)), (stream, versions)
        assert await journal.stream_version(stream) == len(versions)
    by_stream_version = {(e.stream, e.version): e.event_id for e in stored}
    for result, ids in outcome.acked:
        span = range(result.first_version, result.version + 1)
        assert [by_stream_version[result.stream, v] for v in span] == ids
    assert len(stored) == sum(len(ids) for _, ids in outcome.acked)
    for event_id in outcome.refused:
        try:
            await journal.find_event(event_id)
        except EventNotFoundError:
            continue
        raise AssertionError(f"refused event {event_id} was stored")


Settle = Callable[[Journal], Awaitable[None]]


async def _run(journal: Journal, plan: list[list[Step]], settle: Settle | None = None) -> None:
    """Run ``plan``; ``settle`` waits, where a backend's readers may trail its
    acknowledgements (PostgreSQL's horizon), until what was acknowledged is readable."""
    outcome = Outcome([], [])
    try:
        await asyncio.gather(*(_appender(journal, p, outcome) for p in plan))
        if settle is not None:
            await settle(journal)
        await _check(journal, outcome)
    finally:
        await journal.close()


async def _in_fresh_file(plan: list[list[Step]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await _run(await SQLiteJournal.open(Path(tmp) / "journal.db"), plan)


@settings(max_examples=60, deadline=None)
@given(plan=plans)
def test_interleaved_appenders_on_memory(plan: list[list[Step]]) -> None:
    asyncio.run(_run(MemoryJournal(), plan))


@settings(max_examples=30, deadline=None)
@given(plan=plans)
def test_interleaved_appenders_on_sqlite(plan: list[list[Step]]) -> None:
    asyncio.run(_in_fresh_file(plan))
