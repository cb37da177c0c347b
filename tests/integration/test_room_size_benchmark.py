"""The room-size benchmark still runs end to end (no timing is asserted, only that
it prints every figure it promises)."""

from __future__ import annotations

import pytest
from kits.processes import run_benchmark


@pytest.mark.slow
def test_the_room_size_benchmark_runs() -> None:
    done = run_benchmark("room_size", "--quick", "--posts", "20", "--repeats", "1")
    for figure in ("post us", "runtime post us", "bytes/msg", "snapshot save", "snapshot load"):
        assert figure in done.stdout
    assert "| 100,000 |" in done.stdout
