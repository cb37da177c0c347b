"""A runner killed with SIGKILL mid-batch resumes without losing or double-applying events.

The child process follows a real SQLite journal into a real read store; its
handler is deliberately slow so the kill lands inside an open transaction. After
each kill a fresh child resumes from the checkpoint. Every event must end up
applied exactly once: the ``applied`` table has a primary key on the position and
the per-stream counters are incremented (not set), so a lost event or a double
apply both show.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiroku import Codec, Registry, event
from kiroku.journal.protocol import ANY
from kiroku.journal.sqlite import SQLiteJournal

pytestmark = pytest.mark.slow

CHILD = r"""
import asyncio, sys, time
from dataclasses import dataclass
from kiroku import Codec, Recorded, Registry, event
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.projections import Projection, ProjectionRunner, ProjectionStore, Tx, handles

REG = Registry()

@event("crash.Ticked", version=1, registry=REG)
@dataclass(frozen=True, slots=True)
class Ticked:
    n: int

class Tally(Projection):
    name = "crash.tally"

    async def setup(self, tx: Tx) -> None:
        await tx.execute("CREATE TABLE IF NOT EXISTS applied (position INTEGER PRIMARY KEY)")
        await tx.execute("CREATE TABLE IF NOT EXISTS tally (stream TEXT PRIMARY KEY, n INT)")

    @handles(Ticked)
    async def ticked(self, tx: Tx, e: Recorded[Ticked]) -> None:
        await tx.execute("INSERT INTO applied VALUES (?)", (e.position,))
        await tx.execute(
            "INSERT INTO tally VALUES (?, 1) ON CONFLICT(stream) DO UPDATE SET n = n + 1",
            (e.stream,),
        )
        time.sleep(0.0002)  # slow on purpose: the kill should land mid-batch

async def main(journal_path: str, store_path: str) -> None:
    journal = await SQLiteJournal.open(journal_path)
    store = ProjectionStore(store_path, Tally.name)
    runner = ProjectionRunner(Tally(), journal, store, codec=Codec(REG), batch_size=100)
    runner.listeners.append(lambda b: print("batch", b.batch, b.last_position, flush=True))
    await runner.run(follow=False)
    print("done", runner.position, flush=True)
    await journal.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

REG = Registry()


@event("crash.Ticked", version=1, registry=REG)
@dataclass(frozen=True, slots=True)
class Ticked:
    n: int


async def fill(path: Path, count: int) -> None:
    codec = Codec(REG)
    journal = await SQLiteJournal.open(path)
    for i in range(0, count, 50):
        await journal.append(
            f"clock-{i % 7}", ANY, codec.encode_all([Ticked(i + k) for k in range(50)])
        )
    await journal.close()


def child(journal: Path, store: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(journal), str(store)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def kill_mid_batch(proc: subprocess.Popen[str], rng: random.Random) -> None:
    assert proc.stdout is not None
    for _ in range(rng.randint(1, 4)):
        line = proc.stdout.readline()
        assert line.startswith("batch"), line
    # a batch has just committed; the next one is being written (about 20 ms each)
    time.sleep(rng.uniform(0.001, 0.015))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def test_sigkill_mid_batch_resumes_without_loss_or_double_apply(tmp_path: Path) -> None:
    journal, store = tmp_path / "journal.db", tmp_path / "tally.db"
    count = 3000
    asyncio.run(fill(journal, count))
    rng = random.Random(7)
    for _ in range(3):
        kill_mid_batch(child(journal, store), rng)
    checkpoint = sqlite3.connect(store).execute("SELECT position FROM kiroku_checkpoint")
    assert 0 < checkpoint.fetchone()[0] < count  # it really was interrupted part-way
    final = child(journal, store)
    out, _ = final.communicate(timeout=60)
    assert final.returncode == 0
    assert out.strip().splitlines()[-1] == f"done {count}"
    db = sqlite3.connect(store)
    assert db.execute("SELECT count(*), min(position), max(position) FROM applied").fetchone() == (
        count,
        1,
        count,
    )
    expected: Counter[str] = Counter()
    for i in range(0, count, 50):
        expected[f"clock-{i % 7}"] += 50
    assert dict(db.execute("SELECT stream, n FROM tally").fetchall()) == dict(expected)
    assert db.execute("SELECT count(*) FROM kiroku_parked").fetchone() == (0,)
