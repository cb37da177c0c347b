"""The write benchmark still runs end to end (a smoke run; no timing is asserted)."""

from __future__ import annotations

from kits.processes import run_benchmark


def test_the_write_benchmark_runs_in_quick_mode() -> None:
    done = run_benchmark("write", "--quick")
    for line in ("| kiroku | 5 | 80 |", "| eventsourcing | 1 | 80 |", "| raw sqlite3 | 5 | 80 |"):
        assert line in done.stdout
    assert "kiroku/eventsourcing = " in done.stdout
    assert "rehydrate 300 events:" in done.stdout


def test_the_single_stream_benchmark_runs_in_quick_mode() -> None:
    done = run_benchmark("write", "--single-stream", "--quick")
    assert "| 1 | 50 | 200 |" in done.stdout
    assert "| 64 | 50 | 200 |" in done.stdout
