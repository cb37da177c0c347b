"""The distributed append benchmark still runs end to end (a smoke run on the test
server; no timing is asserted, only that it prints every contender)."""

from __future__ import annotations

import pytest
from kits.processes import run_benchmark

from kiroku.testing.postgres import require_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_the_distributed_append_benchmark_runs() -> None:
    server = require_server()
    done = run_benchmark(
        "distributed", "--quick", "--callers", "20", "--no-bus",
        env={"KIROKU_BENCH_POSTGRES_DSN": server.dsn},
    )  # fmt: skip
    for contender in ("group commit", "one transaction per append", "eventsourcing"):
        assert contender in done.stdout
