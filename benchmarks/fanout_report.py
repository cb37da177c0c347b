"""How the fan-out benchmark prints a step, and the medians over repeated steps.

Besides the table's row, each step gets a line of what bounds it: when the
post was answered (the write path, not the fan-out), when the first and the last
listener got it counted from that answer (the projection, the publisher and the
fan-out), how long the server's event-loop thread waited for a core (the
machine's share), and the load generator's own CPU.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

__all__ = ["HEADER", "Runs", "detail", "row"]

HEADER = (
    "listeners | posts/s | server CPU/post | per listener | "
    "last-listener p50 | p99 | memory/listener | missing"
)
Got = dict[str, float]


def row(listeners: int, rate: float, got: Got) -> str:
    """One line of the table (``per_listener_us``: the slope against the first step)."""
    return (
        f"{listeners:>9} | {rate:>7.0f} | {got['cpu_ms']:>12.2f} ms"
        f" | {got['per_listener_us']:>7.1f} µs"
        f" | {got['p50_ms']:>14.1f} ms | {got['p99_ms']:>6.1f} ms"
        f" | {got['kb_per_listener']:>10.1f} KB | {got['missing']:.0f}"
    )


def detail(listeners: int, got: Got) -> str:
    return (
        f"  {listeners}: post answered p50/p99 {got['answer_p50_ms']:.1f}/"
        f"{got['answer_p99_ms']:.1f} ms; from the answer, first listener p50/p99"
        f" {got['first_p50_ms']:.1f}/{got['first_p99_ms']:.1f} ms, last"
        f" {got['acked_p50_ms']:.1f}/{got['acked_p99_ms']:.1f} ms; server loop waited"
        f" {got['waited_ms']:.2f} ms/post for a core; load generator CPU/post"
        f" {got['poster_ms']:.2f} (poster) + {got['reader_ms']:.2f} (listeners) ms"
    )


_SUMMARY = {
    "server CPU/post, ms": "cpu_ms",
    "per listener, µs": "per_listener_us",
    "last listener p50 from send, ms": "p50_ms",
    "last listener p99 from send, ms": "p99_ms",
    "last listener p50 from answer, ms": "acked_p50_ms",
    "last listener p99 from answer, ms": "acked_p99_ms",
    "post answered p99, ms": "answer_p99_ms",
    "server loop's wait for a core, ms/post": "waited_ms",
    "listener processes' CPU/post, ms": "reader_ms",
    "memory per idle listener, KB": "kb_per_listener",
}


class Runs:
    """Every run of each step, for medians and spreads over repeats."""

    def __init__(self) -> None:
        self.runs: dict[int, list[Got]] = defaultdict(list)

    def add(self, listeners: int, got: Got) -> None:
        self.runs[listeners].append(got)

    def summary(self) -> str:
        lines = []
        for listeners, runs in self.runs.items():
            if len(runs) < 2 or not listeners:
                continue
            lines.append(f"{listeners} listeners, median (min-max) over {len(runs)} runs:")
            for label, key in _SUMMARY.items():
                values = [got[key] for got in runs]
                if key == "kb_per_listener":  # later runs reuse the memory the first freed
                    lines.append(f"  {label}: {values[0]:.1f} (the first run)")
                    continue
                lines.append(
                    f"  {label}: {statistics.median(values):.1f}"
                    f" ({min(values):.1f}-{max(values):.1f})"
                )
        return "\n".join(lines)
