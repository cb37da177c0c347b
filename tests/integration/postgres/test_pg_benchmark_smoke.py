"""The distributed append benchmark still runs end to end (a smoke run on the test
server; no timing is asserted, only that it prints every contender)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiroku.testing.postgres import require_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]


def test_the_distributed_append_benchmark_runs() -> None:
    server = require_server()
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.distributed", "--quick", "--callers", "20", "--no-bus"],
        cwd=ROOT,
        env={**os.environ, "KIROKU_BENCH_POSTGRES_DSN": server.dsn},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    for contender in ("group commit", "one transaction per append", "eventsourcing"):
        assert contender in done.stdout
