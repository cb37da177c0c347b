"""Pacing a room's fan-outs by the CPU time they take (see :class:`Pacer`)."""

from __future__ import annotations

__all__ = ["Pacer"]


class Pacer:
    """When each key's next fan-out may start: no sooner after the last one ended than the
    CPU time it took, so fan-out takes at most about half of the event loop's thread.

    An idle server is not slowed (the last fan-out ended long ago); one that
    falls behind (a big room, posts coming fast, cores shared) lets the posts
    of the pause gather and sends them in one write per listener, which costs
    about what a single post does: the cost of a post stops growing with the
    room once the loop is busy, and so does the backlog."""

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    def wait(self, key: str, now: float) -> float | None:
        """None when ``key`` may go at ``now``; else the time it may."""
        at = self._next.get(key)
        if at is None or at <= now:
            self._next.pop(key, None)
            return None
        return at

    def done(self, key: str, busy: float, ended: float) -> None:
        """``key``'s fan-out ended at ``ended`` (loop time) after ``busy`` CPU seconds."""
        self._next[key] = ended + busy
