"""What the operations page asks of whoever runs the projections.

In one process that is the local ``ProjectionHost`` and its background tasks
(``LocalOperations``). When the projections run in a process of their own, the
same calls travel there over a small command channel (``kiroku.roles.control``)
and act on the runners that really run: a replay, a rebuild, a retry or a skip
done on an idle copy in the HTTP process would race the projector writing the
same store, and a rebuild's swap would go unseen by it.
"""

from __future__ import annotations

import logging
from typing import Protocol

import msgspec

from kiroku import JSON, InputError, ProjectionHost
from kiroku.apps.chat.http_ops_tasks import OpsTasks
from kiroku.apps.chat.ops_record import TaskRecord, TaskRecordFile, now
from kiroku.projections import resolve_start

__all__ = ["LocalOperations", "Operations"]

log = logging.getLogger("kiroku.chat")


class Operations(Protocol):
    async def projections(self) -> list[JSON]:
        """Each projection's status, whether it may be replayed, and its task."""
        ...

    async def replay(self, name: str, first: int) -> JSON:
        """Start replaying ``name`` from ``first`` in the background; its task."""
        ...

    async def rebuild(self, name: str) -> JSON:
        """Start rebuilding ``name`` in the background; its task."""
        ...

    async def retry(self, name: str, ident: int) -> None: ...

    async def skip(self, name: str, ident: int, reason: str, by: str) -> None: ...

    async def unready(self) -> dict[str, str]:
        """Why the read side cannot serve truthfully now, by store; empty when ready."""
        ...


class LocalOperations:
    """The projections of this process."""

    def __init__(self, host: ProjectionHost, tasks: OpsTasks) -> None:
        self.host = host
        self.tasks = tasks

    async def projections(self) -> list[JSON]:
        found: list[JSON] = []
        info = self.tasks.info
        for status in await self.host.status():
            row: dict[str, JSON] = msgspec.to_builtins(status)
            # said before anything runs: the page offers Replay only where it is allowed
            row["replay_safe"] = self.host.runner(status.name).projection.replay_safe
            row["task"] = info.get(status.name)
            found.append(row)
        return found

    async def replay(self, name: str, first: int) -> JSON:
        self._replay(name, first)
        return self.tasks.info_of(name)

    async def rebuild(self, name: str) -> JSON:
        self.host.runner(name)  # ProjectionNotFoundError before anything starts
        self._rebuild(name)
        return self.tasks.info_of(name)

    def _replay(self, name: str, first: int, resumed: int = 0) -> None:
        host, tasks = self.host, self.tasks
        tasks.launch(
            name, "replay", lambda: host.replay(name, first, tasks.progress),
            first=first, resumed=resumed,
        )  # fmt: skip

    def _rebuild(self, name: str, resumed: int = 0) -> None:
        host, tasks = self.host, self.tasks
        tasks.launch(name, "rebuild", lambda: host.rebuild(name, tasks.progress), resumed=resumed)

    async def retry(self, name: str, ident: int) -> None:
        await self.host.retry(name, ident)

    async def skip(self, name: str, ident: int, reason: str, by: str) -> None:
        await self.host.skip(name, ident, reason, by=by)

    async def unready(self) -> dict[str, str]:
        return await self.host.unready()

    async def resume(self, record: TaskRecordFile) -> None:
        """Keep the tasks' record in ``record`` from now on, and take up what it says
        was running when the last process ended, by crash or by shutdown alike. Run
        once the projections have started, only by the process that runs them.

        A rebuild starts over, from position 0 into a fresh shadow: the shadow left
        behind is discarded, never continued, since the projection's code may have
        changed across the restart and one store must not mix two versions of it.

        A replay is redone from its recorded first position. Its rewind was
        durable, so the runner went on replaying after the restart; rewinding to
        the same position again delivers part of that span a second time, which
        is safe because only a replay-safe projection may be replayed at all: its
        handlers, given events again, leave the read model as one delivery left it
        (``Projection.replay_safe``). Redoing it, rather than letting the runner
        finish alone, reports progress and an outcome the operator can see.

        A recorded task whose projection is gone, or that cannot start again (a
        replay position outside the journal now, a projection no longer
        replay-safe), is shown failed with the reason. A task started since
        start-up (the rebuild a retraction's note called for) stands for the
        recorded one: it rebuilds from 0, which covers a rebuild and a replay.
        Tasks that had ended are shown again as they ended.
        """
        for task in record.load().values():
            if task.name in self.tasks.records:
                if task.running and self.tasks.busy(task.name):
                    self.tasks.taken_up(task.name, task.resumed + 1)
            elif not task.running:
                self.tasks.show(task)
            else:
                await self._take_up(task)
        self.tasks.keep(record)  # written once all is taken up: never a record emptied first

    async def _take_up(self, task: TaskRecord) -> None:
        name, resumed = task.name, task.resumed + 1
        try:
            self.host.runner(name)  # ProjectionNotFoundError: the app no longer has it
            if task.kind == "rebuild":
                self._rebuild(name, resumed)
            else:
                self.host.check_replay(name)
                if task.first is None:
                    raise InputError("the record names no position to replay from")
                self._replay(name, await resolve_start(self.host.journal, task.first), resumed)
        except Exception as e:
            log.warning("the %s of %s cannot be resumed: %s", task.kind, name, e)
            error = f"could not resume: {type(e).__name__}: {e}"
            failed = msgspec.structs.replace(
                task, state="failed", ended=now(), error=error, resumed=resumed
            )
            self.tasks.show(failed)
            return
        log.info("resumed the %s of %s after a restart (%d)", task.kind, name, resumed)
