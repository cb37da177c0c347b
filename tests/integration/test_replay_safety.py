"""Replay after live equals rebuild for every shipped projection, on its app's own
history; a projection that is not replay-safe is refused before anything runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from kits.chat_history import conversation
from kits.hosts import HostMaker

from kiroku import ANY, Codec, MemoryJournal, Recorded, Registry, event
from kiroku.apps.chat import app as chat
from kiroku.apps.chat.http_ops import OpsTasks
from kiroku.apps.chat.http_ops_tasks import Work
from kiroku.apps.chat.ops_record import Kind
from kiroku.apps.travel import TRAVEL as travel
from kiroku.apps.travel.walkthrough import walkthrough
from kiroku.corrections import RetractionService
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import (
    FailurePolicy,
    Projection,
    ReplayRefusedError,
    Tx,
    handles,
)
from kiroku.runtime import Runtime
from kiroku.testing.replay import ReplayMismatchError, check_replay_equals_rebuild


async def test_every_chat_projection_replays_to_what_a_rebuild_builds(tmp_path: Path) -> None:
    journal = MemoryJournal()
    codec = Codec(chat.registry)
    async with Runtime(journal, chat.deciders, codec=codec) as runtime:
        await conversation(runtime, seed=7, steps=400)
    posts = [e for e in await journal.read_all(0, 10_000) if e.type.endswith("MessagePosted")]
    await RetractionService(journal).retract(posts[3].position, reason="test", by="ops")
    head = await journal.head_position()
    compared = await check_replay_equals_rebuild(
        journal, chat.projections, tmp_path, codec=codec, starts=(1, head // 2, head)
    )
    assert set(compared) == {"chat.history", "chat.rooms", "chat.search", "chat.timeline"}
    assert all(rows > 0 for rows in compared.values())


async def test_the_travel_invoices_replay_to_what_a_rebuild_builds(tmp_path: Path) -> None:
    (tmp_path / "story").mkdir()
    await walkthrough(tmp_path / "story", say=lambda *_: None)
    journal = await SQLiteJournal.open(tmp_path / "story" / "journal.db")
    try:
        head = await journal.head_position()
        compared = await check_replay_equals_rebuild(
            journal, travel.projections, tmp_path / "check", codec=Codec(travel.registry),
            starts=(1, max(1, head // 2)),
        )  # fmt: skip
    finally:
        await journal.close()
    assert compared["travel.invoices"] > 0


# -- the check itself can fail ------------------------------------------------------

REGISTRY = Registry()


@event("safety.Added", version=1, registry=REGISTRY)
@dataclass(frozen=True, slots=True)
class Added:
    key: str
    amount: int


class Balance(Projection):
    """Counts: delivering an event twice adds twice, so it must not claim replay safety."""

    name: ClassVar[str] = "safety.balance"

    @handles(Added)
    async def added(self, tx: Tx, r: Recorded[Added]) -> None:
        await tx.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, n INTEGER)")
        await tx.execute(
            "INSERT INTO t VALUES (?, ?) ON CONFLICT(k) DO UPDATE SET n = n + excluded.n",
            (r.data.key, r.data.amount),
        )


class ClaimsSafety(Balance):
    name: ClassVar[str] = "safety.claims"
    replay_safe: ClassVar[bool] = True  # wrongly


class PlainInsert(Projection):
    name: ClassVar[str] = "safety.insert"
    replay_safe: ClassVar[bool] = True  # wrongly: a second INSERT of the same key fails

    async def setup(self, tx: Tx) -> None:
        await tx.execute("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY)")

    @handles(Added)
    async def added(self, tx: Tx, r: Recorded[Added]) -> None:
        await tx.execute("INSERT INTO t VALUES (?)", (f"{r.stream}:{r.version}",))


async def balances() -> MemoryJournal:
    journal = MemoryJournal()
    codec = Codec(REGISTRY)
    for i in range(3):
        await journal.append("acct-1", i, [codec.encode(Added("a", 35))])
    return journal


async def test_a_replay_of_a_projection_not_declared_safe_is_refused_before_it_runs(
    make_host: HostMaker,
) -> None:
    journal = await balances()
    host = make_host(journal, Balance(), codec=Codec(REGISTRY))
    await host.catch_up()
    with pytest.raises(ReplayRefusedError, match="Rebuild it instead"):
        await host.replay("safety.balance", 2)
    with pytest.raises(ReplayRefusedError):
        host.check_replay("safety.balance")
    assert host.runner("safety.balance").position == 3  # nothing rewound
    assert await host.reader("safety.balance").query("SELECT n FROM t") == [(105,)]


@pytest.mark.parametrize(
    ("projection", "message"),
    [(ClaimsSafety(), "differs from a rebuild"), (PlainInsert(), "failed: .*parked #1")],
)
async def test_the_check_catches_a_projection_wrongly_claiming_replay_safety(
    tmp_path: Path, projection: Projection, message: str
) -> None:
    journal = await balances()
    with pytest.raises(ReplayMismatchError, match=message):
        await check_replay_equals_rebuild(journal, [projection], tmp_path, codec=Codec(REGISTRY))


class Picky(Projection):
    """Takes every event again by key, but refuses amounts over 50."""

    name: ClassVar[str] = "safety.picky"
    replay_safe: ClassVar[bool] = True

    @handles(Added)
    async def added(self, tx: Tx, r: Recorded[Added]) -> None:
        if r.data.amount > 50:
            raise ValueError(f"{r.data.amount} is too much")
        await tx.collection("ok").put(str(r.position), {"amount": r.data.amount})


async def test_a_replay_or_rebuild_task_that_parked_events_does_not_say_just_done(
    make_host: HostMaker,
) -> None:
    journal = await balances()
    codec = Codec(REGISTRY)
    await journal.append("acct-2", 0, [codec.encode(Added("b", 99)), codec.encode(Added("b", 1))])
    policy = FailurePolicy(attempts=1, backoff=0, on_exhausted="continue")
    host = make_host(journal, Picky(), codec=codec, default_policy=policy)
    tasks = OpsTasks()
    try:
        await host.catch_up()
        works: list[tuple[Kind, Work]] = [
            ("replay", lambda: host.replay("safety.picky", 1, tasks.progress)),
            ("rebuild", lambda: host.rebuild("safety.picky", tasks.progress)),
        ]
        for kind, work in works:
            tasks.launch("safety.picky", kind, work)
            await tasks.tasks["safety.picky"]
            assert tasks.info["safety.picky"]["state"] == "done with 2 parked", kind
        tasks.launch("safety.picky", "replay", lambda: host.replay("safety.picky", 4))
        await tasks.tasks["safety.picky"]
        assert tasks.info["safety.picky"]["state"] == "done"  # nothing reported, nothing parked
    finally:
        await tasks.close()


class SlowHeadJournal(SQLiteJournal):
    """A SQLite journal whose head is read as slowly as on a loaded machine."""

    async def head_position(self) -> int:
        await asyncio.sleep(0.05)
        return await super().head_position()


async def test_a_replay_of_a_running_projection_counts_every_event_it_parked(
    make_host: HostMaker, tmp_path: Path
) -> None:
    """A running runner replays a short span at once, from the shared feed's kept
    batches, while the task that asked for it still awaits the journal's head (a
    reader thread's trip on SQLite, slow on a loaded machine): the count is taken
    from the first batch."""
    codec = Codec(REGISTRY)
    journal = await SlowHeadJournal.open(tmp_path / "journal.db")
    for amount in (35, 35, 99, 1):
        await journal.append(f"acct-{amount}", ANY, [codec.encode(Added("a", amount))])
    policy = FailurePolicy(attempts=1, backoff=0, on_exhausted="continue")
    host = make_host(journal, Picky(), codec=codec, default_policy=policy)
    tasks = OpsTasks()
    await host.start()
    try:
        await host.wait_for(await journal.head_position())

        async def replay() -> int:
            return await host.replay("safety.picky", 1, tasks.progress)

        for _ in range(10):
            tasks.launch("safety.picky", "replay", replay)
            await tasks.tasks["safety.picky"]
            assert tasks.info["safety.picky"]["state"] == "done with 1 parked"
    finally:
        await tasks.close()
        await journal.close()
