"""Posting with the projections in the HTTP process, against in a process of their own.

    python -m benchmarks.roles            # 15 s per layout
    python -m benchmarks.roles --quick    # 3 s per layout

Three layouts on the same embedded SQLite files:

- ``inline``: ``kiroku serve --projections inline`` (every role in one process);
- ``child``: ``kiroku serve`` (the default: the projector in a supervised
  child process, CPU reported for the HTTP process + the child);
- ``split``: ``kiroku serve --role write,read`` beside ``kiroku serve --role
  projector``; the projector is woken by the journal's cross-process wake-ups
  and pushes its commits back to the HTTP process.

Load: Debian's ``wrk`` (C, 2 threads, 50 connections) posting to 50 rooms with
one real token, so the load generator is not the bottleneck. Reported per
layout: acknowledged posts/s (each durable: ``synchronous=FULL``), wrk's
latency p50/p99, CPU seconds per 1,000 posts of each server process, and the
catch-up: how long after the load stops until a ``min_position`` read of the
last post answers (the projections' backlog).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.http_wrk import process_tree
from benchmarks.machine import machine
from benchmarks.serving import READY
from kiroku.api.auth import TokenStore

_CMD = [sys.executable, "-c", "from kiroku.cli import main; main()"]
_LUA = """
local rooms = {%s}
local n = 0
request = function()
  n = n + 1
  local path = "/api/rooms/" .. rooms[(n %% #rooms) + 1] .. "/messages"
  return wrk.format("POST", path, {["Authorization"] = "Bearer %s",
    ["Content-Type"] = "application/json"}, '{"body": "load ' .. n .. '"}')
end
"""


def spawn(data: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = data.parent / f"serve-{time.monotonic_ns()}.log"
    args = ["--data", str(data), "serve", "--port", "0", "--log-level", "warning", *extra]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*_CMD, *args], stdout=out, stderr=subprocess.STDOUT)
    return proc, log


def wait_for(log: Path, proc: subprocess.Popen[bytes], pattern: str) -> re.Match[str]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    raise SystemExit(f"kiroku serve did not start:\n{log.read_text()}")


def call(
    base: str, method: str, path: str, token: str, body: object | None = None
) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        answer: dict[str, object] = json.loads(response.read())
        return answer


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_layout(name: str, seconds: float, split: bool, *extra: str) -> None:
    with tempfile.TemporaryDirectory(prefix="kiroku-roles-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        token = TokenStore(data).add("loader", admin=True)
        procs = []
        web, log = spawn(data, *(("--role", "write,read") if split else extra))
        procs.append(web)
        try:
            base = "http://127.0.0.1:" + wait_for(log, web, READY.pattern).group(1)
            if split:
                projector, plog = spawn(data, "--role", "projector")
                procs.append(projector)
                wait_for(plog, projector, "kiroku: roles projector")
            rooms = [str(call(base, "POST", "/api/rooms", token, {"name": f"r{i}"})["room_id"])
                     for i in range(50)]  # fmt: skip
            script = Path(tmp) / "post.lua"
            script.write_text(_LUA % (", ".join(f'"{r}"' for r in rooms), token))
            pids = [q for p in procs for q in process_tree(p.pid)]  # a child projector too
            before = [cpu_seconds(p) for p in pids]
            wrk = subprocess.run(
                ["wrk", "-t2", "-c50", f"-d{seconds:.0f}s", "--latency", "-s", str(script), base],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            stopped = time.perf_counter()
            last = call(base, "POST", f"/api/rooms/{rooms[0]}/messages", token, {"body": "end"})
            call(base, "GET", f"/api/rooms/{rooms[0]}/messages?min_position={last['position']}"
                 "&limit=1", token)  # fmt: skip
            catch_up = time.perf_counter() - stopped
            cpu = [cpu_seconds(p) - b for p, b in zip(pids, before, strict=True)]
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
                p.wait(60)
        report(name, wrk.stdout, cpu, catch_up)


def report(name: str, out: str, cpu: list[float], catch_up: float) -> None:
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+(\S+)", out).group(1)  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    per_k = " + ".join(f"{1000 * c / max(total, 1):.2f}" for c in cpu)
    print(
        f"{name:>10}: {rate:,.0f} posts/s, p50 {p50}, p99 {p99}, "
        f"CPU s per 1k posts {per_k}, caught up {catch_up * 1000:.0f} ms after the load"
        + (f", {errors.group(1)} non-2xx" if errors else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 s per layout")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs Debian's wrk (apt-get install wrk)")
    seconds = 3.0 if args.quick else 15.0
    run_layout("inline", seconds, False, "--projections", "inline")
    run_layout("child", seconds, split=False)
    run_layout("split", seconds, split=True)
    print(machine("wrk on the same machine"))


if __name__ == "__main__":
    main()
