"""The operations page's background tasks: replays and rebuilds, one per projection.

They can take minutes on a large journal, so they run in the background and
report progress (``info``) for ``GET /api/admin/projections``. Rebuilds that
retractions call for run the same way: ``rebuild_when_needed`` is the
projection host's hook. Whoever must hear of a finished task (a projector
process tells the HTTP process to follow a rebuild's swap) adds to ``on_done``.

The process that runs the operations keeps a record of them (``keep``, see
``ops_record``), written when a task starts and when it ends, not at each
progress report: a task still running at a restart is started over and reports
afresh, so its last progress before the restart would never be shown, and the
record costs one fsync per start and end rather than one per batch. A task
cancelled by ``close`` (a shutdown) is not ended: it stays running in the
record and is taken up at the next start, as after a crash.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping

import msgspec

from kiroku import JSON, ConcurrencyError, ProjectionHost
from kiroku.apps.chat.ops_record import Kind, TaskRecord, TaskRecordFile, now
from kiroku.projections import Progress

__all__ = ["OpsTasks", "rebuild_when_needed"]

log = logging.getLogger("kiroku.chat")

Work = Callable[[], Coroutine[object, object, object]]


class OpsTasks:
    """At most one background task per projection, and what it last reported."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.records: dict[str, TaskRecord] = {}
        self.closed = False
        self.on_done: list[Callable[[str], None]] = []  # told the projection's name
        self.record: TaskRecordFile | None = None

    @property
    def info(self) -> Mapping[str, dict[str, JSON]]:
        """Each projection's last task as the operations page shows it."""
        return {name: self.info_of(name) for name in self.records}

    def info_of(self, name: str) -> dict[str, JSON]:
        found: dict[str, JSON] = msgspec.to_builtins(self.records[name])
        return found

    def busy(self, name: str) -> bool:
        task = self.tasks.get(name)
        return task is not None and not task.done()

    def progress(self, p: Progress) -> None:
        self.records[p.projection].progress = p

    def keep(self, record: TaskRecordFile) -> None:
        """Record every change in ``record`` from now on, starting with what is known."""
        self.record = record
        self.save()

    def show(self, task: TaskRecord) -> None:
        """Show (and record) ``task`` as a projection's last one, without running it."""
        self.records[task.name] = task
        self.save()

    def taken_up(self, name: str, resumed: int) -> None:
        """``name``'s running task stands for a recorded one taken up ``resumed`` times."""
        self.records[name].resumed = resumed
        self.save()

    def launch(
        self, name: str, kind: Kind, work: Work, *, first: int | None = None, resumed: int = 0
    ) -> None:
        """Run ``work`` as ``name``'s ``kind`` ("replay" from ``first``, or "rebuild");
        ``resumed`` counts the restarts the task was taken up after."""
        if self.busy(name):
            raise ConcurrencyError(f"Projection {name!r} is already running a {self.kind(name)}")
        record = TaskRecord(name=name, kind=kind, started=now(), first=first, resumed=resumed)
        self.show(record)
        self.tasks[name] = asyncio.create_task(self._run(record, work), name=f"{kind} {name}")

    async def _run(self, record: TaskRecord, work: Work) -> None:
        try:
            await work()
            parked = record.progress.parked if record.progress is not None else 0
            record.state = f"done with {parked} parked" if parked else "done"
        except Exception as e:
            record.state, record.error = "failed", f"{type(e).__name__}: {e}"
        record.ended = now()
        self.save()
        for hook in list(self.on_done):
            try:
                hook(record.name)
            except Exception:
                log.exception("a hook after the %s of %s failed", record.kind, record.name)

    def save(self) -> None:
        """Write the record; a failure is logged, and the operations go on without it."""
        if self.record is None:
            return
        try:
            self.record.save(self.records.values())
        except OSError:
            log.exception("the operations record %s cannot be written", self.record.path)

    def kind(self, name: str) -> str:
        record = self.records.get(name)
        return record.kind if record is not None else "None"

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
