"""How the projections kept up during a posting run, read from the stores afterwards.

Every read store records its batches (``kiroku_batches``: first and last
position, and when the batch was written), and the journal records when each
event occurred. So, with the server stopped, the data directory says per
projection how large its batches were under that load, and how long each event
took from occurring (before the journal's commit) to being in the read model
(the batch's write time, before its own commit).
"""

from __future__ import annotations

import sqlite3
import statistics
from datetime import datetime
from pathlib import Path

from benchmarks.http_wrk import JsonObj

__all__ = ["describe", "projections"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _occurred(journal: Path) -> dict[int, datetime]:
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT position, occurred_at FROM events").fetchall()
    return {int(p): datetime.fromisoformat(t) for p, t in rows}


def projections(data: Path) -> dict[str, JsonObj]:
    """Per serving store: batch sizes (median, p90, mean) and lag p50/p99/max in ms."""
    occurred = _occurred(data / "journal.db")
    found: dict[str, JsonObj] = {}
    for db in sorted((data / "read").glob("*.db")):
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT batch, first_position, last_position, processed_at FROM kiroku_batches"
            ).fetchall()
        sizes: dict[int, int] = {}
        lags: list[float] = []
        for batch, first, last, at in rows:
            sizes[batch] = sizes.get(batch, 0) + last - first + 1
            done = datetime.fromisoformat(at)
            lags += [
                (done - occurred[p]).total_seconds() * 1000
                for p in range(first, last + 1)
                if p in occurred
            ]
        counts = list(sizes.values()) or [0]
        found[db.stem] = {
            "batches": len(sizes),
            "size_p50": statistics.median(counts),
            "size_p90": _pct([float(c) for c in counts], 0.9),
            "size_mean": statistics.fmean(counts),
            "lag_p50_ms": _pct(lags, 0.5),
            "lag_p99_ms": _pct(lags, 0.99),
            "lag_max_ms": max(lags, default=float("nan")),
        }
    return found


def describe(found: dict[str, JsonObj]) -> str:
    lines = ["projections under the posting load (batch sizes in events; lag occurred->applied):"]
    for name, p in found.items():
        lines.append(
            f"  {name}: {p['batches']} batches, size p50 {p['size_p50']:.0f} "
            f"p90 {p['size_p90']:.0f} mean {p['size_mean']:.1f}; lag p50 "
            f"{p['lag_p50_ms']:.1f} ms, p99 {p['lag_p99_ms']:.1f} ms, max {p['lag_max_ms']:.1f} ms"
        )
    return "\n".join(lines)
