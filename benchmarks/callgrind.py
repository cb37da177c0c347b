"""Instructions counted by valgrind's callgrind, for the ``--instructions`` modes.

A count is the same for the same code and inputs whatever else the machine is
doing, where CPU time moves by a fifth from one minute to the next. It covers
user space only: system calls and the kernel's work are not in it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["instructions"]


def instructions(args: Sequence[str]) -> int:
    """The user-space instructions of ``python ARGS`` run to its end, start-up included
    (callers difference two runs of different lengths, so start-up cancels out)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind")
    cmd = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"no count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))
