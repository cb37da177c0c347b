"""The write benchmark still runs end to end (a smoke run; no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_write_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.write", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for line in ("| kiroku | 5 | 80 |", "| eventsourcing | 1 | 80 |", "| raw sqlite3 | 5 | 80 |"):
        assert line in done.stdout
    assert "kiroku/eventsourcing = " in done.stdout
    assert "rehydrate 300 events:" in done.stdout


def test_the_single_stream_benchmark_runs_in_quick_mode() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.write", "--single-stream", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| 1 | 50 | 200 |" in done.stdout
    assert "| 64 | 50 | 200 |" in done.stdout
