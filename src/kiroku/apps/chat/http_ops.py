"""Operations: projection status, replay and rebuild, the event browser with each
event's consumption ledger, parked events, metrics and health probes.

Replays and rebuilds run in the background (they can take minutes on a large
journal); their progress shows in ``GET /api/admin/projections`` under ``task``.
Rebuilds that retractions call for run the same way: ``rebuild_when_needed`` is
the projection host's hook. Actions go to ``operations_of(request)``: the local
host, or the projector process when the projections run in one (``ops``).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from kiroku import JSON, HandlerError, InputError, OutsideJournalError
from kiroku.api.body import read_json
from kiroku.api.problems import problem
from kiroku.apps.chat import http_ops_events, http_ops_parked
from kiroku.apps.chat.http_common import node_of, path_int, require_admin
from kiroku.apps.chat.http_ops_events import event_json
from kiroku.apps.chat.http_ops_tasks import OpsTasks, rebuild_when_needed
from kiroku.apps.chat.ops import Operations
from kiroku.corrections.exclusion import is_retracted
from kiroku.projections import resolve_start

__all__ = ["OpsTasks", "operations_of", "rebuild_when_needed", "routes"]


BEHIND_SECONDS = 5.0
"""Lag after which a projection counts as behind in ``/readyz``."""


class ReplayBody(msgspec.Struct):
    from_position: int | float | None = None  # JSON Schema's integers include 1.0
    from_time: datetime | None = None


class SkipBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


def operations_of(request: Request) -> Operations:
    """Where operators' actions go: this process's host, or the projector process."""
    found: Operations = request.app.state.operations
    return found


async def projections(request: Request) -> JSONResponse:
    require_admin(request)
    return JSONResponse({"projections": await operations_of(request).projections()})


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
    task = await operations_of(request).replay(name, first)
    return JSONResponse({"name": name, "task": task}, status_code=202)


async def rebuild(request: Request) -> JSONResponse:
    require_admin(request)
    name = request.path_params["name"]
    node_of(request).read.host.runner(name)  # ProjectionNotFoundError -> 404
    task = await operations_of(request).rebuild(name)
    return JSONResponse({"name": name, "task": task}, status_code=202)


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
    try:
        await operations_of(request).retry(name, ident)
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
    await operations_of(request).skip(name, ident, body.reason.strip(), who.name)
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
    reasons = await operations_of(request).unready()
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
