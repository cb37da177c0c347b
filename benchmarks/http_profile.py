"""A py-spy profile of a server process under load, for ``benchmarks.http_load --profile``.

py-spy samples the thread holding the GIL (``--gil``), so the shares are of the
Python work that serializes requests, not of time spent waiting. Each sample is
charged to its innermost frame (own time) and to a part of the system, found
from the innermost frame that belongs to one, so "HTTP" means the server,
framework and endpoint code, not the runtime or journal work they await.
"""

from __future__ import annotations

import collections
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["PARTS", "record", "summaries", "summary"]

PARTS: list[tuple[str, str]] = [
    ("HTTP: socket writes", r"CoalescingTransport\.flush|RequestResponseCycle\.send "),
    ("projections", r"kiroku/projections|apps/chat/(views|message_log)"),
    ("journal", r"kiroku/journal"),
    ("runtime + domain", r"kiroku/(runtime|schema|domain)|apps/chat/(room|rules)"),
    ("HTTP: kiroku endpoints", r"apps/chat/http_"),
    ("HTTP: kiroku api", r"kiroku/api/"),
    ("HTTP: starlette", r"starlette/"),
    ("HTTP: uvicorn", r"uvicorn/"),
]


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    """Start sampling ``pid`` for ``seconds`` into ``out`` (raw folded stacks); None
    when py-spy is not installed."""
    spy = shutil.which("py-spy")
    if spy is None:
        return None
    cmd = [spy, "record", "--format", "raw", "--gil", "--nonblocking", "--pid", str(pid)]
    cmd += ["--duration", str(max(1, int(seconds))), "--output", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _short(frame: str) -> str:
    found = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not found:
        return frame
    name, path = found.groups()
    path = re.sub(r".*/(site-packages|src|lib/python3[.\d]*)/", "", path)
    return f"{name} ({path})"


def summary(raw: Path, top: int = 15) -> str:
    """The shares of each part and the ``top`` entries by own time."""
    own: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n, frames = int(count), stack.split(";")
        total += n
        own[_short(frames[-1])] += n
        part = next(
            (p for f in reversed(frames) for p, rx in PARTS if re.search(rx, f)), "other (loop)"
        )
        parts[part] += n
    if not total:
        return "profile: no samples"
    lines = [f"profile: {total} samples of the GIL-holding thread; by part:"]
    lines += [f"  {100 * n / total:5.1f}%  {p}" for p, n in parts.most_common()]
    lines.append("top entries by own time:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def summaries(root: Path) -> str:
    """The summary of each process's profile (``profile.<pid>.txt``) under ``root``."""
    found = sorted(root.glob("profile.*.txt"))
    if not found:
        return "profile: none recorded (is py-spy installed and allowed to attach?)"
    return "\n".join(f"{raw.name}: {summary(raw)}" for raw in found)
