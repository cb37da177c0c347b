"""Processes starting together on a new journal file race to switch it to WAL and
create its schema; SQLite answers some of those races with SQLITE_BUSY at once. Every
one of them must open the journal, not fail with "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_OPEN = """
import asyncio, sys, time
from kiroku.journal.sqlite import SQLiteJournal
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # all processes open at about the same moment
async def main() -> None:
    journal = await SQLiteJournal.open(sys.argv[1])
    await journal.close()
asyncio.run(main())
"""


def test_processes_opening_a_new_journal_together_all_open_it(tmp_path: Path) -> None:
    for round_ in range(3):
        path = tmp_path / f"journal{round_}.db"
        start = time.time() + 1.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN, str(path), str(start)],
                stderr=subprocess.PIPE,
            )
            for _ in range(6)
        ]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err.decode()
