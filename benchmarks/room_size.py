"""What a chat room costs as its history grows: per post, in memory, per snapshot.

    python -m benchmarks.room_size            # 1k, 100k and 1M messages (a few minutes)
    python -m benchmarks.room_size --quick    # 1k, 10k, 100k (seconds)
    python -m benchmarks.room_size --around-snapshot [--size N]   # posts during snapshots
    python -m benchmarks.room_size --around-snapshot --journal postgresql://127.0.0.1/test

For each size n, a room of n posted messages (hex ids, 50 authors):

- ``decide+evolve``: one PostMessage decided and folded into the live state, and
  one MarkRead of a random earlier message (the lookup path), in microseconds;
- ``runtime``: one PostMessage through ``Runtime.execute`` on a SQLite journal
  (synchronous=FULL, the room recovered from a snapshot), sequential caller,
  and the process's CPU time per post (the latency is mostly the fsync). All
  rooms live in one journal and take turns, so only the room's size differs;
- ``memory``: the live state's bytes per message (every object reachable from
  it, measured by walking the references, minus an empty room's);
- snapshot: bytes, encode (``snapshot_of`` + JSON), decode, and the journal's
  ``save_snapshot`` / ``load_snapshot`` on the same SQLite file.

``--around-snapshot``: posts into a small room, one at a time, while the
snapshot of a room of N messages (default 1M) is encoded on a worker thread
and saved, over and over, as the runtime's snapshotter does; and the same
number of posts with no snapshot in flight. A post should not wait for the
big room's snapshot: compare the p99 and the worst post of the two. With
``--journal postgresql://...`` the journal is PostgreSQL instead of a
temporary SQLite file, in a schema of its own (``--schema``, dropped first
and afterwards).

Latencies are medians with the 10th-90th percentile spread (and p99); the
machine is shared, so compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import psycopg
from psycopg import sql

from benchmarks.machine import machine
from kiroku import Codec, Runtime, Snapshot
from kiroku.apps.chat import commands as c
from kiroku.apps.chat import events as e
from kiroku.apps.chat.room import Room, RoomState
from kiroku.domain.envelope import utc_now
from kiroku.journal.postgres import PostgreSQLJournal
from kiroku.journal.protocol import Journal
from kiroku.journal.sqlite import SQLiteJournal

AUTHORS = tuple(f"user{i}" for i in range(50))


def deep_size(root: object) -> int:
    """Bytes of every object reachable from ``root`` (classes and modules excluded)."""
    seen: set[int] = set()
    stack, total = [root], 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type) or type(obj).__name__ == "module":
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def spread(samples: Sequence[float]) -> str:
    """median [p10-p90] p99, in microseconds."""
    s = sorted(samples)

    def q(x: float) -> float:
        return s[min(len(s) - 1, int(x * len(s)))] * 1e6

    return f"{statistics.median(s) * 1e6:,.1f} [{q(0.1):,.1f}-{q(0.9):,.1f}] p99 {q(0.99):,.1f}"


def ms(samples: Sequence[float]) -> str:
    lo, hi = min(samples) * 1e3, max(samples) * 1e3
    return f"{statistics.median(samples) * 1e3:,.1f} ms [{lo:,.1f}-{hi:,.1f}]"


def room_id(n: int) -> str:
    return f"room{n}"


def history(n: int) -> list[e.RoomEvent]:
    rid = room_id(n)
    created = e.RoomCreated(rid, "big room", AUTHORS[0], AUTHORS)
    posts = (e.MessagePosted(rid, uuid.uuid4().hex, AUTHORS[i % 50], "hi") for i in range(n))
    return [created, *posts]


def pure(room: Room, state: RoomState, ids: list[str], posts: int) -> tuple[str, str]:
    rid = state.room_id
    post_times, read_times = [], []
    for i in range(posts):
        cmd = c.PostMessage(rid, uuid.uuid4().hex, "hello", AUTHORS[i % 50])
        t0 = time.perf_counter()
        state = room.fold(room.decide(cmd, state), state)
        post_times.append(time.perf_counter() - t0)
        mark = c.MarkRead(rid, random.choice(ids), AUTHORS[(i * 7) % 50])
        t0 = time.perf_counter()
        state = room.fold(room.decide(mark, state), state)
        read_times.append(time.perf_counter() - t0)
    return spread(post_times), spread(read_times)


async def snapshot_costs(
    room: Room, state: RoomState, n: int, journal: SQLiteJournal, repeats: int
) -> dict[str, str]:
    codec = Codec()
    encode, decode, save, load = [], [], [], []
    data = b""
    for _ in range(repeats):
        t0 = time.perf_counter()
        data = codec.encode_state(room.snapshot_of(state))
        encode.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        room.from_snapshot(codec.decode_state(data, room.snapshot_type))
        decode.append(time.perf_counter() - t0)
        stream = f"room-{state.room_id}"
        snap = Snapshot(stream, n + 1, "RoomState", room.state_version, data, utc_now(), {})
        t0 = time.perf_counter()
        await journal.save_snapshot(snap)
        save.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        await journal.load_snapshot(stream)
        load.append(time.perf_counter() - t0)
    return {
        "bytes": f"{len(data) / 1e6:,.1f} MB ({len(data) / max(n, 1):.0f} B/msg)",
        "encode": ms(encode),
        "decode": ms(decode),
        "save": ms(save),
        "load": ms(load),
    }


async def fill_journal(journal: SQLiteJournal, events: list[e.RoomEvent]) -> None:
    codec, stream, version = Codec(), f"room-{room_id(len(events) - 1)}", 0
    for start in range(0, len(events), 20_000):
        chunk = codec.encode_all(events[start : start + 20_000])
        await journal.append(stream, version, chunk)
        version += len(chunk)


async def through_runtime(
    journal: SQLiteJournal, sizes: Sequence[int], posts: int
) -> dict[int, tuple[str, float, float]]:
    """Per room: (latencies, activation seconds, CPU seconds per post in this process).

    The rooms share one journal and take turns post by post, so the journal's
    size, its WAL and the machine's load are the same for every room size.
    """
    times: dict[int, list[float]] = {n: [] for n in sizes}
    cpu = dict.fromkeys(sizes, 0.0)
    activation = {}
    async with Runtime(journal, [Room()]) as runtime:
        for n in sizes:
            t0 = time.perf_counter()
            await runtime.state(Room, room_id(n))  # recover from the snapshot first
            activation[n] = time.perf_counter() - t0
        for i in range(posts):
            for n in sizes:
                cmd = c.PostMessage(room_id(n), uuid.uuid4().hex, "hello", AUTHORS[i % 50])
                t0, c0 = time.perf_counter(), time.process_time()
                await runtime.execute(Room, room_id(n), cmd)
                times[n].append(time.perf_counter() - t0)
                cpu[n] += time.process_time() - c0
    return {n: (spread(times[n]), activation[n], cpu[n] / posts) for n in sizes}


async def measure(n: int, posts: int, repeats: int, journal: SQLiteJournal) -> dict[str, str]:
    room = Room()
    events = history(n)
    t0 = time.perf_counter()
    state = room.fold(events)
    fold = time.perf_counter() - t0
    empty = deep_size(room.fold(events[:1], RoomState()))
    per_message = (deep_size(state) - empty) / max(n, 1)
    ids = [ev.message_id for ev in events[1:] if isinstance(ev, e.MessagePosted)]
    post, read = pure(room, state, ids, posts)
    await fill_journal(journal, events)
    snap = await snapshot_costs(room, state, n, journal, repeats)
    return {
        "messages": f"{n:,}",
        "fold": f"{fold:,.2f} s",
        "post us": post,
        "mark-read us": read,
        "bytes/msg": f"{per_message:,.1f}",
        **{f"snapshot {k}": v for k, v in snap.items()},
    }


async def run(sizes: Sequence[int], posts: int, repeats: int, path: Path) -> list[dict[str, str]]:
    journal = await SQLiteJournal.open(path)
    try:
        rows = []
        for n in sizes:
            rows.append(await measure(n, posts, repeats, journal))
            print(" | ".join(f"{k}: {v}" for k, v in rows[-1].items()), flush=True)
        gc.collect()
        for row, (_, (latency, activation, cpu)) in zip(
            rows, (await through_runtime(journal, sizes, posts)).items(), strict=True
        ):
            row["runtime post us"] = latency
            row["runtime CPU us/post"] = f"{cpu * 1e6:,.0f}"
            row["activation"] = f"{activation * 1e3:,.0f} ms"
        return rows
    finally:
        await journal.close()


async def drop_schema(dsn: str, schema: str) -> None:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
        )


async def open_journal(path: Path, dsn: str | None, schema: str) -> Journal:
    """A SQLite journal at ``path``, or a PostgreSQL one in a fresh ``schema`` at ``dsn``."""
    if dsn is None:
        return await SQLiteJournal.open(path)
    await drop_schema(dsn, schema)
    return await PostgreSQLJournal.open(dsn, schema=schema)


async def around_snapshot(
    n: int, posts: int, path: Path, dsn: str | None = None, schema: str = "room_size_bench"
) -> dict[str, str]:
    """Post latencies (ms) with and without a big room's snapshot being saved meanwhile."""
    room, codec = Room(), Codec()
    state = room.fold(history(n))
    journal = await open_journal(path, dsn, schema)
    stream = f"room-{state.room_id}"
    saves: list[float] = []
    writes: list[float] = []  # save_snapshot alone

    def encode() -> bytes:
        return codec.encode_state(room.snapshot_of(state))

    async def snapshots(stop: asyncio.Event, saved: asyncio.Event) -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            data = await asyncio.to_thread(encode)
            snap = Snapshot(stream, n + 1, "RoomState", room.state_version, data, utc_now(), {})
            t1 = time.perf_counter()
            await journal.save_snapshot(snap)
            writes.append(time.perf_counter() - t1)
            saves.append(time.perf_counter() - t0)
            saved.set()

    async def post_all(runtime: Runtime) -> list[float]:
        times = []
        for i in range(posts):
            cmd = c.PostMessage("small", uuid.uuid4().hex, "hello", AUTHORS[i % 50])
            t0 = time.perf_counter()
            await runtime.execute(Room, "small", cmd)
            times.append(time.perf_counter() - t0)
        return times

    try:
        async with Runtime(journal, [Room()]) as runtime:
            await runtime.execute(
                Room, "small", c.CreateRoom("small", "small", AUTHORS[0], AUTHORS)
            )
            quiet = await post_all(runtime)
            stop, saved = asyncio.Event(), asyncio.Event()
            saving = asyncio.create_task(snapshots(stop, saved))
            await saved.wait()  # the first encode and save, to know they run
            busy = await post_all(runtime)
            stop.set()
            await saving
    finally:
        await journal.close()
        if dsn is not None:
            await drop_schema(dsn, schema)

    def line(times: list[float]) -> str:
        s = sorted(times)
        p99 = s[min(len(s) - 1, int(0.99 * len(s)))]
        median = statistics.median(s) * 1e3
        return f"median {median:.2f} ms, p99 {p99 * 1e3:.2f} ms, max {s[-1] * 1e3:.1f} ms"

    return {
        "journal": "SQLite" if dsn is None else f"PostgreSQL ({journal!r})",
        "messages": f"{n:,}",
        "snapshot encode+save": ms(saves),
        "snapshot save alone": ms(writes),
        "snapshots during the posts": str(len(saves) - 1),
        "posts, no snapshot": line(quiet),
        "posts, snapshots in flight": line(busy),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.room_size", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1k, 10k, 100k messages")
    parser.add_argument("--posts", type=int, default=2000, help="posts measured per size")
    parser.add_argument("--repeats", type=int, default=3, help="snapshot round trips per size")
    parser.add_argument(
        "--around-snapshot",
        action="store_true",
        help="only post latencies while a big room's snapshot is saved (see above)",
    )
    parser.add_argument("--size", type=int, default=1_000_000, help="with --around-snapshot")
    parser.add_argument(
        "--journal",
        metavar="DSN",
        help="with --around-snapshot: a postgresql:// DSN to measure on instead of SQLite",
    )
    parser.add_argument(
        "--schema", default="room_size_bench", help="with --journal: the schema to (re)create"
    )
    args = parser.parse_args(argv)
    if args.journal is not None and not args.around_snapshot:
        parser.error("--journal needs --around-snapshot")
    if args.around_snapshot:
        with tempfile.TemporaryDirectory(prefix="kiroku-room-") as tmp:
            path = Path(tmp) / "rooms.db"
            row = asyncio.run(
                around_snapshot(args.size, args.posts, path, args.journal, args.schema)
            )
        print(f"\n{machine('post latencies around snapshots')}\n")
        for k, v in row.items():
            print(f"- {k}: {v}")
        return
    sizes = (1_000, 10_000, 100_000) if args.quick else (1_000, 100_000, 1_000_000)
    with tempfile.TemporaryDirectory(prefix="kiroku-room-") as tmp:
        rows = asyncio.run(run(sizes, args.posts, args.repeats, Path(tmp) / "rooms.db"))
    print(f"\n{machine('latencies: median [p10-p90] p99')}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---:|" * len(keys))
    for row in rows:
        print("| " + " | ".join(row[k] for k in keys) + " |")


if __name__ == "__main__":
    main()
