"""One ``wrk`` run against a server, and the CPU each of its processes spent per request.

Debian's ``wrk`` is a C load generator: it reaches well past what the servers
here answer, and its own CPU is reported beside theirs to show it. A Lua script
spreads the posts over the rooms and prints the counts and percentiles.

With a ``rate``, the script holds the offered load at that many requests per
second instead of sending as fast as answers come back: each wrk thread keeps a
schedule of send times, one every ``threads / rate`` seconds, and a connection
that comes free waits for the next slot (or sends at once when the schedule is
behind). wrk stays a closed loop, so a server stall delays the requests of the
connections it holds; with many more connections than requests in flight (200
connections at 3,000/s and a few ms per answer) the schedule's next slots find
free connections, and the achieved rate shows whether the offered one was held.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["JsonObj", "Plan", "cpu_seconds", "describe", "process_tree", "wrk"]

JsonObj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Plan:
    clients: int
    rooms: int
    seconds: float
    listeners: int
    messages: int
    rate: float = 0.0
    """Offered requests per second across all connections; 0 is as fast as answered."""


_WRK_SCRIPT = """
paths = {%(paths)s}
headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %(token)s"}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("%(method)s", paths[(counter %% #paths) + 1], headers, %(body)s)
end
%(pacing)s
done = function(summary, latency, requests)
  io.write(string.format("WRK %%d %%d %%d %%f %%f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
    + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"""

# A schedule of send times per wrk thread, on CLOCK_MONOTONIC through LuaJIT's FFI.
_PACING = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } kiroku_timespec;
int clock_gettime(int clock, kiroku_timespec *t);
]]
local clock = ffi.new("kiroku_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = %(interval_ms)f
local slot = nil
delay = function()
  local now = now_ms()
  slot = (slot or now) + interval
  if slot < now then return 0 end
  return slot - now
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server may run its read side in child processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        found.append(current := todo.pop())
        todo += children.get(current, [])
    return found


def wrk(
    base: str, paths: list[str], token: str, plan: Plan, pid: int, method: str = "POST"
) -> JsonObj:
    """One wrk run (posts, or GETs); its counts, latencies and the CPU per request of each
    server process."""
    body = '\'{"body": "hello"}\'' if method == "POST" else "nil"
    quoted = ", ".join(f'"{p}"' for p in paths)
    threads = 2
    pacing = _PACING % {"interval_ms": 1000 * threads / plan.rate} if plan.rate else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        fill = {"paths": quoted, "token": token, "method": method, "body": body}
        script.write(_WRK_SCRIPT % {**fill, "pacing": pacing})
    pids = process_tree(pid)
    before, start = {p: cpu_seconds(p) for p in pids}, os.times()
    cmd = ["wrk", f"-t{threads}", f"-c{plan.clients}", f"-d{plan.seconds:.0f}s"]
    cmd += ["-s", script.name, base]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    after = {p: cpu_seconds(p) for p in pids}
    end = os.times()
    os.unlink(script.name)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK "))
    requests, errors, micros, p50, p99 = (float(v) for v in line.split()[1:])
    ok = requests - errors
    return {
        "requests": requests, "errors": errors, "per_second": ok / (micros / 1e6),
        "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
        "cpu_us": {p: (after[p] - before[p]) / max(ok, 1) * 1e6 for p in pids},
        "seconds": plan.seconds,
        "wrk_cpu_s": end.children_user + end.children_system
        - start.children_user - start.children_system,
    }  # fmt: skip


def describe(name: str, got: JsonObj, plan: Plan) -> str:
    cpu = ", ".join(f"pid {p}: {us:.0f} us" for p, us in got["cpu_us"].items())
    offered = f", offered {plan.rate:.0f}/s" if plan.rate else ""
    return (
        f"{name}: {plan.clients} connections, {plan.rooms} rooms{offered}, "
        f"{got['seconds']:.0f}s: "
        f"{got['requests']:.0f} requests ({got['errors']:.0f} errors), "
        f"{got['per_second']:.0f}/s, p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms; "
        f"CPU per request {cpu}; wrk CPU {got['wrk_cpu_s']:.1f} s{_held(got, plan)}"
    )


def _held(got: JsonObj, plan: Plan) -> str:
    """A warning when a paced run fell behind its schedule: its latencies are then those
    of a saturated server, and wrk (a closed loop) leaves out the posts it never sent."""
    if not plan.rate or got["per_second"] >= 0.95 * plan.rate:
        return ""
    return f"\n  NOT HELD: {got['per_second']:.0f}/s of an offered {plan.rate:.0f}/s"
