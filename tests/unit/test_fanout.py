"""The fan-out's pieces: one chunk shared by every listener, bounded queues that drop
a slow listener with a resume frame, and an end after which nothing is queued."""

from __future__ import annotations

import asyncio
import json

from kiroku.api.fanout import Chunk, Fanout, Listener, control_frame


def chunk(*versions: int) -> Chunk:
    return Chunk.of([(v, f"id: {v}\ndata: {{}}\n\n".encode()) for v in versions])


def test_a_chunk_sends_only_what_the_reader_lacks() -> None:
    c = chunk(3, 4, 5)
    assert c.after(2) is c.data  # the shared bytes themselves, not a copy
    assert c.after(4) == b"id: 5\ndata: {}\n\n"
    assert c.after(5) == b""
    assert c.through(4).frames == c.frames[:2]


async def test_every_listener_gets_the_same_bytes() -> None:
    fanout = Fanout()
    listeners = [Listener("room", f"u{i}") for i in range(3)]
    for listener in listeners:
        fanout.add(listener)
    c = chunk(1, 2)
    for listener in fanout.at("room"):
        fanout.deliver(listener, c)
    for listener in listeners:
        taken = await listener.take()
        assert taken is not None
        assert taken[0].data is c.data


async def test_a_listener_past_its_bound_is_dropped_with_a_resume_frame() -> None:
    fanout = Fanout()
    slow = Listener("room", "slow", limit=40)
    fanout.add(slow)
    for v in range(1, 10):
        fanout.deliver(slow, chunk(v))
    assert fanout.drops == 1
    assert slow.ended
    assert await slow.take() == []  # what it held is gone: it re-reads from Last-Event-ID
    final = slow.final()
    assert final is not None
    assert final.startswith(b"event: resume\n")
    assert json.loads(final.split(b"data: ")[1]) == {"reason": "slow-consumer"}


async def test_nothing_is_queued_after_the_end() -> None:
    listener = Listener("room", "bob")
    listener.offer(chunk(1))
    listener.end(control_frame("end", "member-removed"), keep_pending=True)
    listener.offer(chunk(2))
    taken = await listener.take()
    assert taken is not None
    assert [c.last for c in taken] == [1]
    assert listener.final() == b'event: end\ndata: {"reason":"member-removed"}\n\n'


async def test_a_heartbeat_wakes_only_listeners_that_sent_nothing_since_the_last() -> None:
    fanout = Fanout()
    quiet, busy = Listener("room", "quiet"), Listener("room", "busy")
    fanout.add(quiet)
    fanout.add(busy)
    waiting = asyncio.create_task(quiet.take())
    await asyncio.sleep(0)
    fanout.deliver(busy, chunk(1))
    fanout.beat()
    assert await waiting is None  # woken for a keep-alive, with nothing to send
    busy_taken = await busy.take()
    assert busy_taken is not None
    assert [c.last for c in busy_taken] == [1]
    waiting = asyncio.create_task(busy.take())
    await asyncio.sleep(0)
    fanout.beat()  # busy sent before the first beat, nothing since: now it is woken
    assert await asyncio.wait_for(waiting, 1) is None


def test_listeners_are_counted_and_leave() -> None:
    fanout = Fanout()
    a, b = Listener("r1", "a"), Listener("r2", "b")
    fanout.add(a)
    fanout.add(b)
    assert len(fanout) == 2
    fanout.discard(a)
    assert fanout.keys() == ["r2"]
    fanout.close()
    assert b.ended
