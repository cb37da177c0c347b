"""Time, injectable: the hold-back scheduler asks a Clock instead of the wall.

Production uses ``SystemClock``; tests use ``ManualClock`` and move time with
``advance`` so that a 24-hour window passes in a microsecond and no test ever
sleeps or asserts on elapsed wall time. Both sleep *until a deadline or a
wake-up*, never in a polling loop.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    async def sleep_until(self, when: datetime | None, wake: asyncio.Event) -> None:
        """Return at ``when`` (never, if None) or as soon as ``wake`` is set."""
        ...


class SystemClock:
    """The wall clock; sleeps with a single timer, woken early by ``wake``."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime | None, wake: asyncio.Event) -> None:
        timeout = None if when is None else max(0.0, (when - self.now()).total_seconds())
        try:
            await asyncio.wait_for(wake.wait(), timeout)
        except TimeoutError:
            return


class ManualClock:
    """A clock that moves only when told. Sleepers whose deadline is reached by
    ``advance``/``set`` are woken through their own wake event."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else datetime(2030, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError(f"ManualClock needs a timezone-aware start, got {self._now!r}")
        self._sleepers: list[tuple[datetime | None, asyncio.Event]] = []

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        if delta < timedelta(0):
            raise ValueError(f"time only moves forward; cannot advance by {delta}")
        return self.set(self._now + delta)

    def set(self, when: datetime) -> datetime:
        self._now = max(self._now, when)
        for deadline, wake in self._sleepers:
            if deadline is not None and deadline <= self._now:
                wake.set()
        return self._now

    async def sleep_until(self, when: datetime | None, wake: asyncio.Event) -> None:
        if when is not None and when <= self._now:
            return
        entry = (when, wake)
        self._sleepers.append(entry)
        try:
            await wake.wait()
        finally:
            self._sleepers.remove(entry)
