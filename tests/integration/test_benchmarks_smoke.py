"""The read-side, decode and HTTP benchmarks still run end to end (smoke runs;
no timing is asserted, only that each prints every figure it promises)."""

from __future__ import annotations

import pytest
from kits.processes import run_benchmark


def _quick(module: str) -> str:
    return run_benchmark(module, "--quick").stdout


def test_the_decode_benchmark_runs() -> None:
    out = _quick("decode")
    for case in ("decode current (v3)", "decode v1, upcast v1->v2->v3", "data only current (v3)"):
        assert case in out


@pytest.mark.slow
def test_the_projection_benchmark_runs() -> None:
    out = _quick("project")
    assert "catch-up of 10,000 events into documents" in out
    assert "ratio" in out
    assert "rebuild (shadow + swap)" in out
    assert "lag from append to read model" in out


@pytest.mark.slow
def test_the_http_benchmark_runs() -> None:
    out = _quick("http_load")
    assert "posting (kiroku serve): 50 connections, 50 rooms" in out
    assert "ceiling (minimal endpoint, uvloop+httptools)" in out
    assert "ratio kiroku/ceiling" in out
    assert "CPU per request pid" in out
    assert "fan-out: 100 listeners" in out


def test_the_handoff_benchmark_runs() -> None:
    out = run_benchmark("handoff", "--round-trips", "200").stdout
    for loop in ("uvloop", "asyncio"):
        assert f"{loop}: loop -> thread -> loop" in out
    assert "machine: " in out


def test_the_asgi_path_benchmark_runs() -> None:
    out = run_benchmark("asgi_path", "--requests", "100", "--rounds", "1").stdout
    assert "me: " in out
    assert "post: " in out
    assert "x the ceiling" in out
    assert "ceiling: " in out


def test_the_projector_path_benchmark_runs() -> None:
    out = run_benchmark("projector_path", "--posts", "200", "--runs", "1").stdout
    assert "kiroku: " in out
    assert "raw: " in out
    assert "x raw" in out
    assert "machine: " in out


def test_the_ids_benchmark_runs() -> None:
    out = _quick("ids")
    assert "random (v4): write calls" in out
    assert "time-ordered (v7): write calls" in out
    assert "KiB written" in out
