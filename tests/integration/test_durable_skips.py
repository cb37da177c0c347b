"""A skip is an operator's durable decision: every later pass of the projection
(live after a restart, replay, rebuild, a retraction's automatic rebuild)
passes over the skipped event on the record, and never fails it again."""

from __future__ import annotations

import msgspec
from kits.hosts import HostMaker

from kiroku import Codec, MemoryJournal, RetractionService
from kiroku.apps.chat import app as chat
from kiroku.apps.chat import commands as c
from kiroku.apps.chat import events as e
from kiroku.apps.chat.room import Room
from kiroku.projections import FailurePolicy, Outcome, ProjectionHost
from kiroku.runtime import Runtime

STOP = FailurePolicy(attempts=1, backoff=0, on_exhausted="stop")
CODEC = Codec(chat.registry)


async def history() -> tuple[MemoryJournal, int, int]:
    """Room r1 with two posts, an undecodable post, then one more post appended after it."""
    journal = MemoryJournal()
    async with Runtime(journal, chat.deciders, codec=CODEC) as runtime:
        await runtime.execute(Room, "r1", c.CreateRoom("r1", "general", "ann", ("bob",)))
        first = await runtime.execute(Room, "r1", c.PostMessage("r1", "m1", "hello", "ann"))
        await runtime.execute(Room, "r1", c.PostMessage("r1", "m2", "hi", "bob"))
    stream = (await journal.read_all(0, 1))[0].stream
    good = CODEC.encode(e.MessagePosted("r1", "m3", "ann", "x"))
    bad = msgspec.structs.replace(good, data=b'{"not": "a message"}')
    garbage = await journal.append(stream, 3, [bad])
    await journal.append(stream, 4, [CODEC.encode(e.MessagePosted("r1", "m4", "bob", "after"))])
    return journal, first.position, garbage.position


async def bodies(host: ProjectionHost) -> list[object]:
    found = await host.reader("chat.timeline").collection("messages").query(order_by="seq")
    return [m["body"] for m in found]


async def assert_skipped_on_record(host: ProjectionHost, position: int) -> None:
    _, entries = await host.ledger(position)
    for entry in entries:
        assert entry.outcome is Outcome.SKIPPED, entry
        assert entry.detail == "skipped by ann: a producer bug wrote it", entry
    assert host.parked() == []


async def test_every_later_pass_honours_a_skip(make_host: HostMaker) -> None:
    journal, first, garbage = await history()
    host = make_host(journal, *chat.projections, codec=CODEC, default_policy=STOP)
    await host.catch_up()
    for name in host.names:
        (parked,) = host.parked(name)
        assert parked.position == garbage
        await host.skip(name, parked.id, "a producer bug wrote it", by="ann")
    await host.catch_up()
    assert await bodies(host) == ["hello", "hi", "after"]
    await assert_skipped_on_record(host, garbage)

    for name in host.names:  # a rebuild passes over it, on the record
        await host.rebuild(name)
    await assert_skipped_on_record(host, garbage)
    for name in host.names:  # and so does a replay
        await host.replay(name, 1, lambda _: None)
    await assert_skipped_on_record(host, garbage)
    assert host.skipped("chat.rooms")[0].by == "ann"
    await host.close()

    # the decision outlives the process
    restarted = make_host(journal, *chat.projections, codec=CODEC, default_policy=STOP)
    await restarted.start()
    report = await RetractionService(journal).retract(first, reason="posted by mistake", by="ops")
    await restarted.on_retraction(report)  # the automatic rebuilds pass over it as well
    assert await bodies(restarted) == ["hi", "after"]
    assert not [s for s in await restarted.status() if s.error]
    await assert_skipped_on_record(restarted, garbage)
    await restarted.close()
