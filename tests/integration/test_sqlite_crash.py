"""Kill -9 a process in the middle of heavy appending; nothing acknowledged is lost.

A child process appends from 50 concurrent tasks, three events per append,
and reports each append on stdout only *after* it was acknowledged. The parent
kills it with SIGKILL at a random moment, reopens the file, and checks that
every reported append is there, versions are gapless, and every append in the
file is whole (all three events, consecutive). The same file goes through
several kill/reopen rounds, so recovery of a torn WAL is exercised repeatedly.
"""

import asyncio
import json
import random
import signal
import sqlite3
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from kiroku.journal.sqlite import SQLiteJournal

pytestmark = pytest.mark.slow

ROUNDS = 4
TASKS = 50
STREAMS = 20
PER_APPEND = 3

CHILD = r"""
import asyncio, json, random, sys, uuid
from kiroku.domain.envelope import NewEvent
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

async def worker(journal, rng):
    while True:
        stream = f"load-{rng.randrange(STREAMS)}"
        tag = uuid.uuid4().hex
        events = [
            NewEvent("crash.Tick", 1, json.dumps({"append": tag, "i": i}).encode())
            for i in range(PER_APPEND)
        ]
        r = await journal.append(stream, ANY, events)
        ack = {"stream": stream, "first": r.first_version, "last": r.version,
               "ids": [str(e.event_id) for e in events]}
        sys.stdout.write(json.dumps(ack) + "\n")
        sys.stdout.flush()

async def main(path):
    journal = await SQLiteJournal.open(path)
    rng = random.Random()
    await asyncio.gather(*(worker(journal, rng) for _ in range(TASKS)))

asyncio.run(main(sys.argv[1]))
"""


async def _run_and_kill(db: Path, rng: random.Random, errors: Path) -> list[dict[str, Any]]:
    """Start the child, let it get under load, SIGKILL it; return the acks it reported."""
    script = f"STREAMS, TASKS, PER_APPEND = {STREAMS}, {TASKS}, {PER_APPEND}\n{CHILD}"
    with errors.open("ab") as stderr:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, str(db), stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
    assert proc.stdout is not None
    acks: list[dict[str, Any]] = []
    loaded = asyncio.Event()

    async def read() -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            if line.endswith(b"\n"):  # a line cut by the kill was never fully reported
                acks.append(json.loads(line))
            if len(acks) >= 100:
                loaded.set()
        loaded.set()  # the child died on its own; the returncode check says why

    reader = asyncio.ensure_future(read())
    try:
        await asyncio.wait_for(loaded.wait(), 30)
        await asyncio.sleep(rng.uniform(0.0, 0.5))
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
        await proc.wait()
        await reader
    assert proc.returncode == -signal.SIGKILL, _text(errors)
    return acks


def _text(path: Path) -> str:
    return path.read_text()


async def _check(db: Path, acks: list[dict[str, Any]]) -> None:
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    async with await SQLiteJournal.open(db) as journal:
        stored = await journal.read_all(0, limit=10_000_000)
        by_stream: dict[str, list[int]] = defaultdict(list)
        ids = {}
        appends: dict[str, list[tuple[int, int, str, int]]] = defaultdict(list)
        for e in stored:
            by_stream[e.stream].append(e.version)
            ids[e.stream, e.version] = str(e.event_id)
            data = json.loads(e.data)
            appends[data["append"]].append((e.position, e.version, e.stream, data["i"]))
        for stream, versions in by_stream.items():
            assert versions == sorted(versions), stream
            assert versions == list(range(1, len(versions) + 1)), stream
            assert await journal.stream_version(stream) == len(versions)
        for ack in acks:
            found = [ids.get((ack["stream"], v)) for v in range(ack["first"], ack["last"] + 1)]
            assert found == ack["ids"], f"acknowledged append lost: {ack}"
        for tag, parts in appends.items():
            at, numbers, streams, order = zip(*sorted(parts), strict=True)
            assert order == tuple(range(PER_APPEND)), f"append {tag} is not whole: {parts}"
            assert len(set(streams)) == 1
            assert at == tuple(range(at[0], at[0] + PER_APPEND))
            assert numbers == tuple(range(numbers[0], numbers[0] + PER_APPEND))


async def test_acknowledged_appends_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "journal.db"
    rng = random.Random()
    acks: list[dict[str, Any]] = []
    for _ in range(ROUNDS):
        acks += await _run_and_kill(db, rng, tmp_path / "child-stderr.txt")
        await _check(db, acks)
    assert len(acks) >= 100 * ROUNDS
