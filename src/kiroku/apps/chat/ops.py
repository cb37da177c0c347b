"""What the operations page asks of whoever runs the projections.

In one process that is the local ``ProjectionHost`` and its background tasks
(``LocalOperations``). When the projections run in a process of their own, the
same calls travel there over a small command channel (``kiroku.roles.control``)
and act on the runners that really run: a replay, a rebuild, a retry or a skip
done on an idle copy in the HTTP process would race the projector writing the
same store, and a rebuild's swap would go unseen by it.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from kiroku import JSON, ProjectionHost
from kiroku.apps.chat.http_ops_tasks import OpsTasks

__all__ = ["LocalOperations", "Operations"]


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
        for status in await self.host.status():
            row: dict[str, JSON] = msgspec.to_builtins(status)
            # said before anything runs: the page offers Replay only where it is allowed
            row["replay_safe"] = self.host.runner(status.name).projection.replay_safe
            row["task"] = self.tasks.info.get(status.name)
            found.append(row)
        return found

    async def replay(self, name: str, first: int) -> JSON:
        host, tasks = self.host, self.tasks
        tasks.launch(name, "replay", lambda: host.replay(name, first, tasks.progress))
        return tasks.info[name]

    async def rebuild(self, name: str) -> JSON:
        host, tasks = self.host, self.tasks
        host.runner(name)  # ProjectionNotFoundError before anything starts
        tasks.launch(name, "rebuild", lambda: host.rebuild(name, tasks.progress))
        return tasks.info[name]

    async def retry(self, name: str, ident: int) -> None:
        await self.host.retry(name, ident)

    async def skip(self, name: str, ident: int, reason: str, by: str) -> None:
        await self.host.skip(name, ident, reason, by=by)

    async def unready(self) -> dict[str, str]:
        return await self.host.unready()
