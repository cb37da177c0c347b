"""The room-size benchmark still runs end to end (no timing is asserted, only that
it prints every figure it promises)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_room_size_benchmark_runs() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.room_size",
            "--quick",
            "--posts",
            "20",
            "--repeats",
            "1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for figure in ("post us", "runtime post us", "bytes/msg", "snapshot save", "snapshot load"):
        assert figure in done.stdout
    assert "| 100,000 |" in done.stdout
