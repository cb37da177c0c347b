"""Read-your-writes under load: how long after a post is answered the projections have it.

The projections' own record (``http_load_batches``) measures from when an event
occurred, which includes the post's wait for its group commit. What a client
sees is the time from the post's answer until a read with ``min_position`` can
answer. So, beside the load, a probe posts into a room of its own every
``EVERY`` seconds and at once reads that room through the three routes that
together wait for all four chat projections (timeline, history, search; each
also waits for the room list), with ``min_position`` set to the post's position;
then the same three reads without it. The lag of a probe is the first time
less the second (what the reads cost without waiting, under the same load);
it can come out slightly negative when the second reads met a busier moment.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from benchmarks.http_wrk import JsonObj

__all__ = ["EVERY", "probe"]

EVERY = 0.05
"""Seconds between probes: ~20 posts and 120 reads a second, ~1-2 % of the load's CPU."""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _reads(
    client: aiohttp.ClientSession, paths: list[str], token: str, **params: str
) -> None:
    async def one(path: str) -> None:
        async with client.get(
            path, params=params, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            await r.read()
            if r.status != 200:
                raise SystemExit(f"GET {path} answered {r.status}")

    await asyncio.gather(*(one(p) for p in paths))


async def probe(base: str, token: str, room: str, stop: asyncio.Event) -> JsonObj:
    """Probe until ``stop`` is set; the lags' p50/p99/max in ms, and the waiting reads' own."""
    paths = [
        f"/api/rooms/{room}/messages?limit=1",
        f"/api/rooms/{room}/history?limit=1",
        "/api/search?q=probe&limit=1",
    ]
    lags: list[float] = []
    waited: list[float] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base_url=base, timeout=timeout) as client:
        while not stop.is_set():
            body = {"body": "probe"}
            async with client.post(
                f"/api/rooms/{room}/messages",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            ) as answer:
                position = str((await answer.json())["position"])
            start = time.perf_counter()
            await _reads(client, paths, token, min_position=position)
            middle = time.perf_counter()
            await _reads(client, paths, token)
            end = time.perf_counter()
            waited.append((middle - start) * 1000)
            lags.append(((middle - start) - (end - middle)) * 1000)
            await asyncio.sleep(EVERY)
    return {
        "probes": len(lags),
        "lag_p50_ms": _pct(lags, 0.5),
        "lag_p99_ms": _pct(lags, 0.99),
        "lag_max_ms": max(lags, default=float("nan")),
        "reads_p50_ms": _pct(waited, 0.5),
        "reads_p99_ms": _pct(waited, 0.99),
    }


def describe(found: JsonObj) -> str:
    return (
        f"read-your-writes ({found['probes']} probes, post answered -> min_position reads of all "
        f"four projections answered, less the same reads' time without waiting): lag p50 "
        f"{found['lag_p50_ms']:.1f} ms, p99 {found['lag_p99_ms']:.1f} ms, max "
        f"{found['lag_max_ms']:.1f} ms (the waiting reads took p50 {found['reads_p50_ms']:.1f}, "
        f"p99 {found['reads_p99_ms']:.1f} ms)"
    )
