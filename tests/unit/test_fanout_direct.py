"""Direct writes to idle streams, fan-out in slices, and pacing: the order, the access
check and the slow-listener drop hold whichever way a chunk goes out."""

from __future__ import annotations

import asyncio

from kiroku.api.fanout import SLICE, Chunk, Fanout, Listener, control_frame
from kiroku.api.pacing import Pacer


def chunk(*versions: int) -> Chunk:
    return Chunk.of([(v, f"id: {v}\ndata: {{}}\n\n".encode()) for v in versions])


class Socket:
    """A sink that takes bytes until told it is full, like a connection's write buffer."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.full = False

    def __call__(self, data: bytes) -> bool:
        if self.full:
            return False
        self.written.append(data)
        return True


async def parked(listener: Listener) -> asyncio.Task[list[Chunk] | None]:
    """The stream's task waiting in ``take``, as it does between chunks."""
    task = asyncio.create_task(listener.take())
    await asyncio.sleep(0)
    return task


async def test_an_idle_stream_is_written_at_once_and_skips_what_it_has() -> None:
    listener, sock = Listener("room", "ann"), Socket()
    listener.sink, listener.cursor = sock, 2  # the replay sent up to version 2
    waiting = await parked(listener)
    assert listener.offer(chunk(1, 2, 3))
    assert listener.offer(chunk(4))
    assert sock.written == [b"id: 3\ndata: {}\n\n", b"id: 4\ndata: {}\n\n"]
    assert listener.cursor == 4
    assert not waiting.done()  # nothing woke the task: it stays parked
    waiting.cancel()


async def test_a_stream_not_parked_is_queued_and_keeps_its_order() -> None:
    listener, sock = Listener("room", "ann"), Socket()
    listener.sink = sock
    listener.offer(chunk(1))  # the task is not waiting (mid-send): queued, not written
    waiting = await parked(listener)  # returns at once with what is queued
    listener.offer(chunk(2))  # queued behind 1 even though the task is about to run
    taken = await waiting
    assert sock.written == []
    assert taken is not None
    assert listener.advance(taken) == b"id: 1\ndata: {}\n\n"
    rest = await listener.take()
    assert rest is not None
    assert listener.advance(rest) == b"id: 2\ndata: {}\n\n"
    waiting = await parked(listener)  # drained: direct again
    listener.offer(chunk(3))
    assert sock.written == [b"id: 3\ndata: {}\n\n"]
    waiting.cancel()


async def test_a_full_socket_queues_and_a_slow_listener_is_still_dropped_and_counted() -> None:
    fanout, sock = Fanout(), Socket()
    slow = Listener("room", "slow", limit=40)
    slow.sink = sock
    fanout.add(slow)
    waiting = await parked(slow)
    sock.full = True
    for v in range(1, 10):
        fanout.deliver(slow, chunk(v))
    assert sock.written == []
    assert fanout.drops == 1
    assert slow.ended
    assert await waiting == []
    final = slow.final()
    assert final is not None
    assert final.startswith(b"event: resume\n")


async def test_a_failing_sink_falls_back_to_the_task() -> None:
    listener = Listener("room", "ann")

    def broken(data: bytes) -> bool:
        raise RuntimeError("connection in an unexpected state")

    listener.sink = broken
    waiting = await parked(listener)
    assert listener.offer(chunk(1))
    assert listener.sink is None
    taken = await waiting
    assert taken is not None
    assert [c.last for c in taken] == [1]


async def test_nothing_is_written_after_the_end() -> None:
    listener, sock = Listener("room", "bob"), Socket()
    listener.sink = sock
    waiting = await parked(listener)
    listener.offer(chunk(1))
    listener.end(control_frame("end", "member-removed"), keep_pending=True)
    listener.offer(chunk(2))
    assert sock.written == [b"id: 1\ndata: {}\n\n"]
    assert await waiting == []
    assert listener.final() == b'event: end\ndata: {"reason":"member-removed"}\n\n'


async def test_a_sweep_yields_between_slices_and_ends_access_across_them() -> None:
    fanout = Fanout()
    listeners = [Listener("room", f"u{i}") for i in range(2 * SLICE + 1)]
    for listener in listeners:
        fanout.add(listener)
    handed: list[int] = []
    removed = listeners[-1]

    def hand(listener: Listener) -> None:
        handed.append(len(handed))
        fanout.deliver(listener, chunk(1))

    async def meanwhile() -> None:  # runs in the first yield: an HTTP request, a removal
        assert len(handed) == SLICE  # the first slice went out before anything else ran
        removed.end(control_frame("end", "member-removed"), keep_pending=False)

    other = asyncio.create_task(meanwhile())
    busy = await fanout.sweep(list(listeners), hand)
    await other
    assert len(handed) == len(listeners)
    assert busy >= 0
    assert await removed.take() == []  # ended in a yield: the chunk after it was not queued
    first = await listeners[0].take()
    assert first is not None
    assert [c.last for c in first] == [1]


def test_pacing_spaces_a_key_by_its_last_busy_time() -> None:
    pacer = Pacer()
    assert pacer.wait("room", 10.0) is None  # never published: at once
    pacer.done("room", busy=0.05, ended=10.0)
    assert pacer.wait("room", 10.01) == 10.05
    assert pacer.wait("other", 10.01) is None  # per key
    assert pacer.wait("room", 10.05) is None
    assert pacer.wait("room", 10.06) is None  # due again, and forgotten
