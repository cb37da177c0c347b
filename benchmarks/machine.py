"""What every benchmark prints about the machine it ran on: results from a busy
machine read differently, so the load average goes beside every table."""

from __future__ import annotations

import os
import sys

__all__ = ["load_average", "machine"]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as ``0.4, 1.2, 3.1``."""
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def machine(note: str) -> str:
    """``machine: 2 cores, Python 3.11.7, load average …; <note>``."""
    return (
        f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"load average {load_average()}; {note}"
    )
