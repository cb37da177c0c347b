"""Operations: projection status, replay and rebuild, the event browser with each
event's consumption ledger, parked events, metrics and health probes.

Replays and rebuilds run in the background (they can take minutes on a large
journal); their progress shows in ``GET /api/admin/projections`` under ``task``.
Rebuilds that retractions call for run the same way: ``rebuild_when_needed`` is
the projection host's hook.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from kiroku import (
    JSON,
    ConcurrencyError,
    HandlerError,
    InputError,
    OutsideJournalError,
    ProjectionHost,
)
from kiroku.api.body import read_json
from kiroku.api.problems import problem
from kiroku.apps.chat import http_ops_events, http_ops_parked
from kiroku.apps.chat.http_common import node_of, path_int, require_admin
from kiroku.apps.chat.http_ops_events import event_json
from kiroku.corrections.exclusion import is_retracted
from kiroku.projections import Progress, resolve_start

__all__ = ["OpsTasks", "rebuild_when_needed", "routes"]


BEHIND_SECONDS = 5.0
"""Lag after which a projection counts as behind in ``/readyz``."""


class ReplayBody(msgspec.Struct):
    from_position: int | float | None = None  # JSON Schema's integers include 1.0
    from_time: datetime | None = None


class SkipBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


class OpsTasks:
    """At most one background task per projection, and what it last reported."""

    def __init__(self) -> None:
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.info: dict[str, dict[str, JSON]] = {}
        self.closed = False

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


def _tasks(request: Request) -> OpsTasks:
    tasks: OpsTasks = request.app.state.ops
    return tasks


async def projections(request: Request) -> JSONResponse:
    require_admin(request)
    host, tasks = node_of(request).read.host, _tasks(request)
    found: list[JSON] = []
    for status in await host.status():
        row: dict[str, JSON] = msgspec.to_builtins(status)
        # said before anything runs: the page offers Replay only where it is allowed
        row["replay_safe"] = host.runner(status.name).projection.replay_safe
        row["task"] = tasks.info.get(status.name)
        found.append(row)
    return JSONResponse({"projections": found})


async def replay(request: Request) -> JSONResponse:
    require_admin(request)
    name = request.path_params["name"]
    host = node_of(request).read.host
    host.runner(name)  # ProjectionNotFoundError -> 404 before anything starts
    host.check_replay(name)  # ReplayRefusedError (an InputError) -> 400, nothing runs
    body = await read_json(request, ReplayBody)
    position = body.from_position
    if isinstance(position, float):
        if not position.is_integer():
            raise InputError(f"from_position must be an integer, got {position}")
        position = int(position)
    start = body.from_time if body.from_time is not None else position
    if start is None:
        raise InputError("Give from_position (>= 1) or from_time (ISO 8601 with a zone)")
    try:
        first = await resolve_start(host.journal, start)  # refused now, not as a failed task
    except InputError as e:  # a well-formed start the journal does not hold
        raise OutsideJournalError(str(e)) from e
    tasks = _tasks(request)
    tasks.launch(name, "replay", lambda: host.replay(name, first, tasks.progress))
    return JSONResponse({"name": name, "task": tasks.info[name]}, status_code=202)


async def rebuild(request: Request) -> JSONResponse:
    require_admin(request)
    name = request.path_params["name"]
    host, tasks = node_of(request).read.host, _tasks(request)
    host.runner(name)
    tasks.launch(name, "rebuild", lambda: host.rebuild(name, tasks.progress))
    return JSONResponse({"name": name, "task": tasks.info[name]}, status_code=202)


async def event_detail(request: Request) -> JSONResponse:
    require_admin(request)
    position = path_int(request, "position")
    node = node_of(request)
    event, ledger = await node.read.host.ledger(position)
    entries = [msgspec.to_builtins(dataclasses.asdict(entry)) for entry in ledger]
    retracted = await is_retracted(node.read.journal, event)
    return JSONResponse({"event": event_json(event, retracted), "ledger": entries})


async def retry_parked(request: Request) -> Response:
    """Apply a parked event again (after a fix was deployed), then what it held back.

    A retry that fails again parks the event anew and answers 409 with the error."""
    require_admin(request)
    name, ident = request.path_params["name"], _parked_id(request)
    host = node_of(request).read.host
    try:
        await host.retry(name, ident)
    except HandlerError as e:
        return problem(409, str(e), kind="retry-failed")
    return JSONResponse({"name": name, "id": ident, "status": "retried"})


async def skip_parked(request: Request) -> JSONResponse:
    """Give up on a parked event, on the record: the ledger keeps who and why."""
    who = require_admin(request)
    name, ident = request.path_params["name"], _parked_id(request)
    body = await read_json(request, SkipBody)
    if not body.reason.strip():
        raise InputError("A skip needs a reason: nothing is skipped without a record")
    await node_of(request).read.host.skip(name, ident, body.reason.strip(), by=who.name)
    return JSONResponse({"name": name, "id": ident, "status": "skipped"})


def _parked_id(request: Request) -> int:
    return path_int(request, "ident")


async def metrics(request: Request) -> Response:
    rendered: str = request.app.state.metrics.render()
    return PlainTextResponse(rendered, media_type="text/plain; version=0.0.4")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready when every store it serves from is there and current (``host.unready``).

    ``behind`` names projections more than ``BEHIND_SECONDS`` behind the journal:
    ready, but what they serve is late. The chat page reads both to say
    "messages are delayed" instead of a green "Live" over a read side that is not
    showing new posts.
    """
    host = node_of(request).read.host
    reasons = await host.unready()
    failing: list[JSON] = list(reasons)
    statuses = await host.status()
    behind: list[JSON] = [
        s.name for s in statuses if s.name not in failing and s.lag_seconds > BEHIND_SECONDS
    ]
    body: dict[str, JSON] = {
        "status": "ready" if not failing else "not ready",
        "failing": failing,
        "reasons": dict(reasons),
        "behind": behind,
    }
    return JSONResponse(body, status_code=503 if failing else 200)


def routes() -> list[BaseRoute]:
    admin = "/api/admin"
    return [
        Route(admin + "/projections", projections, methods=["GET"]),
        Route(admin + "/projections/{name}/replay", replay, methods=["POST"]),
        Route(admin + "/projections/{name}/rebuild", rebuild, methods=["POST"]),
        Route(admin + "/events", http_ops_events.events, methods=["GET"]),
        Route(admin + "/events/{position}", event_detail, methods=["GET"]),
        Route(admin + "/parked", http_ops_parked.parked, methods=["GET"]),
        Route(admin + "/parked/groups", http_ops_parked.groups, methods=["GET"]),
        Route(admin + "/parked/bulk", http_ops_parked.bulk, methods=["POST"]),
        Route(admin + "/parked/{name}/{ident}/retry", retry_parked, methods=["POST"]),
        Route(admin + "/parked/{name}/{ident}/skip", skip_parked, methods=["POST"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
