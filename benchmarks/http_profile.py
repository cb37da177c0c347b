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
from pathlib import Path

__all__ = ["PARTS", "launch", "summaries", "summary"]

PARTS: list[tuple[str, str]] = [
    ("HTTP: socket writes", r"CoalescingTransport\.flush|RequestResponseCycle\.send "),
    ("projections", r"kiroku/projections|apps/chat/views"),
    ("journal", r"kiroku/journal"),
    ("runtime + domain", r"kiroku/(runtime|schema|domain)|apps/chat/(room|rules|message_log)"),
    ("HTTP: kiroku endpoints", r"apps/chat/http_"),
    ("HTTP: kiroku api", r"^(?!run \().*kiroku/api/"),  # not the root frame, run(): every stack
    ("HTTP: starlette", r"starlette/"),
    ("HTTP: uvicorn", r"uvicorn/"),
]


def launch(cmd: list[str], out: Path) -> list[str]:
    """``cmd`` run under py-spy, sampling it and its child processes into ``out`` (raw
    folded stacks, each under a ``process <pid>:...`` root frame). py-spy starts the
    program itself: attaching to a running pid needs ptrace rights many machines deny.
    Fails when py-spy is not installed."""
    spy = shutil.which("py-spy")
    if spy is None:
        raise SystemExit("--profile needs py-spy (pip install py-spy)")
    head = [spy, "record", "--format", "raw", "--gil", "--nonblocking", "--subprocesses"]
    head += ["--rate", "400"]
    return [*head, "--output", str(out), "--", *cmd]


def _short(frame: str) -> str:
    found = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not found:
        return frame
    name, path = found.groups()
    path = re.sub(r".*/(site-packages|src|lib/python3[.\d]*)/", "", path)
    return f"{name} ({path})"


_PROCESS = re.compile(r'process (\d+):"(.*?)"(?:;|$)')


def _by_process(raw: Path) -> dict[str, list[tuple[list[str], int]]]:
    """The samples of each process. py-spy roots each stack at ``process <pid>:"<cmd>"``,
    a child's under its parent's (``process 1:"...";process 2:"...";frames``), and a
    command line may hold ``;``, the frame separator: the innermost root names it."""
    found: dict[str, list[tuple[list[str], int]]] = collections.defaultdict(list)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        name = "process"
        while rooted := _PROCESS.match(stack):
            pid, cmd = rooted.groups()
            role = re.search(r"--role (\S+)", cmd)
            name = f"process {pid} ({role.group(1) if role else 'serve'})"
            stack = stack[rooted.end() :]
        if stack:  # empty: a sample of the root alone (the process starting)
            found[name].append((stack.split(";"), int(count)))
    return found


def summary(samples: list[tuple[list[str], int]], top: int = 15) -> str:
    """The shares of each part and the ``top`` entries by own time."""
    own: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    total = 0
    for frames, n in samples:
        total += n
        own[_short(frames[-1])] += n
        part = next(
            (p for f in reversed(frames) for p, rx in PARTS if re.search(rx, f)), "other (loop)"
        )
        if any("_find_and_load" in f for f in frames):
            part = "start-up (imports)"
        parts[part] += n
    if not total:
        return "profile: no samples"
    lines = [f"profile: {total} samples of the GIL-holding thread; by part:"]
    lines += [f"  {100 * n / total:5.1f}%  {p}" for p, n in parts.most_common()]
    lines.append("top entries by own time:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def summaries(raw: Path) -> str:
    """The summary of each process's samples in ``raw`` (from :func:`launch`)."""
    if not raw.exists():
        return f"profile: {raw} was not written"
    found = _by_process(raw)
    return "\n".join(f"{name}: {summary(samples)}" for name, samples in found.items())
