"""The distributed benchmark, bus included, still runs end to end (a smoke run at
a tiny size on the test PostgreSQL and a throwaway nats-server; no timing is
asserted, only that it prints every figure it promises, each with a number)."""

from __future__ import annotations

import re

import nats_kit
import pytest
from kits.processes import run_benchmark

from kiroku.testing.postgres import require_server

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]


def test_the_distributed_bus_benchmark_runs() -> None:
    nats_kit.nats_binary()  # skips (or fails under CI) without a recent nats-server
    server = require_server()
    done = run_benchmark(
        "distributed", "--quick", "--callers", "20", env={"KIROKU_BENCH_POSTGRES_DSN": server.dsn}
    )
    out = done.stdout
    assert "group commit" in out
    for row in (
        "| relay, journal -> JetStream",
        "| republish from checkpoint 0",
        "| projector from the bus, 1 process |",
        "| projector from the bus, 2 processes |",
    ):
        line = next((x for x in out.splitlines() if x.startswith(row)), None)
        assert line is not None, out
        assert re.search(r"\| [\d,]+ ", line), line
    assert re.search(r"end-to-end lag over NATS, 300 appends .* p50 [\d.]+ ms, p99 [\d.]+ ms", out)
    assert re.search(r"COMMIT -> the relay's publish: p50 [\d.]+ ms", out)
