"""The fan-out benchmark still runs end to end (a smoke run: no timing is asserted,
only that it prints each figure it promises, what bounds each step, and that no
listener missed a post)."""

from __future__ import annotations

from kits.processes import run_benchmark


def test_the_fanout_benchmark_runs_and_loses_nothing() -> None:
    done = run_benchmark("fanout", "--quick")
    rows = [line.split("|") for line in done.stdout.splitlines() if line.count("|") == 7]
    assert [r[0].strip() for r in rows[1:]] == ["0", "150"]  # 150: the fan-out yields once
    for row in rows[1:]:
        assert "ms" in row[2]
        assert "KB" in row[6]
        assert row[7].strip() == "0"  # every listener got every post
    assert "what bounds each step:" in done.stdout
    assert "load generator CPU/post" in done.stdout
