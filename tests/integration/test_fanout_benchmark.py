"""The fan-out benchmark still runs end to end (a smoke run: no timing is asserted,
only that it prints each figure it promises, what bounds each step, and that no
listener missed a post)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_fanout_benchmark_runs_and_loses_nothing() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fanout", "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    rows = [line.split("|") for line in done.stdout.splitlines() if line.count("|") == 7]
    assert [r[0].strip() for r in rows[1:]] == ["0", "150"]  # 150: the fan-out yields once
    for row in rows[1:]:
        assert "ms" in row[2]
        assert "KB" in row[6]
        assert row[7].strip() == "0"  # every listener got every post
    assert "what bounds each step:" in done.stdout
    assert "load generator CPU/post" in done.stdout
