"""The operations page's background tasks: replays and rebuilds, one per projection.

They can take minutes on a large journal, so they run in the background and
report progress (``info``) for ``GET /api/admin/projections``. Rebuilds that
retractions call for run the same way: ``rebuild_when_needed`` is the
projection host's hook. Whoever must hear of a finished task (a projector
process tells the HTTP process to follow a rebuild's swap) adds to ``on_done``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine

import msgspec

from kiroku import JSON, ConcurrencyError, ProjectionHost
from kiroku.projections import Progress

__all__ = ["OpsTasks", "rebuild_when_needed"]

log = logging.getLogger("kiroku.chat")


class OpsTasks:
    """At most one background task per projection, and what it last reported."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.info: dict[str, dict[str, JSON]] = {}
        self.closed = False
        self.on_done: list[Callable[[str], None]] = []  # told the projection's name

    def busy(self, name: str) -> bool:
        task = self.tasks.get(name)
        return task is not None and not task.done()

    def progress(self, p: Progress) -> None:
        self.info[p.projection]["progress"] = msgspec.to_builtins(p)

    def launch(
        self, name: str, kind: str, work: Callable[[], Coroutine[object, object, object]]
    ) -> None:
        if self.busy(name):
            raise ConcurrencyError(f"Projection {name!r} is already running a {self.kind(name)}")
        self.info[name] = {"kind": kind, "state": "running", "progress": None, "error": None}

        async def run() -> None:
            try:
                await work()
                report = self.info[name].get("progress")
                parked = report.get("parked", 0) if isinstance(report, dict) else 0
                self.info[name]["state"] = f"done with {parked} parked" if parked else "done"
            except Exception as e:
                self.info[name].update(state="failed", error=f"{type(e).__name__}: {e}")
            for hook in list(self.on_done):
                try:
                    hook(name)
                except Exception:
                    log.exception("a hook after the %s of %s failed", kind, name)

        self.tasks[name] = asyncio.create_task(run(), name=f"{kind} {name}")

    def kind(self, name: str) -> str:
        return str(self.info.get(name, {}).get("kind"))

    async def close(self) -> None:
        self.closed = True
        for task in self.tasks.values():
            task.cancel()
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)


def rebuild_when_needed(host: ProjectionHost, ops: OpsTasks) -> Callable[[str], None]:
    """The projection host's ``on_rebuild_needed`` for the chat server: a rebuild a
    retraction calls for runs as an operations task, so its progress shows on the
    operations page like one an operator started.

    A projection busy with another task is looked at again when that task ends:
    a replay leaves the note in place, a rebuild may have excluded the
    retraction already (``rebuild_if_pending`` then does nothing).
    """
    again: set[str] = set()

    def ended(name: str, task: asyncio.Task[None]) -> None:
        again.discard(name)
        if not task.cancelled():
            needed(name)

    def needed(name: str) -> None:
        if ops.closed:
            return
        task = ops.tasks.get(name)
        if task is not None and not task.done():
            if name not in again:
                again.add(name)
                task.add_done_callback(lambda t: ended(name, t))
            return
        ops.launch(name, "rebuild", lambda: host.rebuild_if_pending(name, ops.progress))

    return needed
