"""Corrections over HTTP: retracting an event and the event catalog.

``POST /api/admin/events/{position}/retract`` builds the same RetractionService
``kiroku retract`` builds — the projection ledger and the hold-back store in the
data directory as witnesses — so the command line and the operations page report
the same blast radius. A refused retraction (a system event, an event already
retracted) is a 409: the request is well formed, but the journal's current state
forbids it; the service checks before it writes, so nothing is appended.

``GET /api/admin/catalog`` returns the catalog ``kiroku serve`` checked at
start-up, as the JSON rendering plus its Mermaid text, for the page to draw.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from kiroku import JSON, App
from kiroku.api.body import read_json
from kiroku.api.openapi import json_body, obj, operation, param
from kiroku.api.params import MAX_POSITION
from kiroku.apps.chat.http_common import node_of, path_int, require_admin
from kiroku.apps.chat.node import ChatNode
from kiroku.catalog import Catalog, build_catalog, render
from kiroku.corrections import (
    BlastRadiusSource,
    LedgerWitness,
    RetractionListener,
    RetractionReport,
    RetractionService,
    SQLiteHoldStore,
)
from kiroku.projections import LedgerEntry

__all__ = ["HOLDS_FILE", "app_catalog", "openapi_paths", "report_json", "routes"]

log = logging.getLogger(__name__)

POSITION: JSON = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}
HOLDS_FILE = "holds.db"
"""The hold-back store ``kiroku retract`` and ``kiroku holds`` read too."""


class RetractBody(msgspec.Struct):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]


def app_catalog(app: App) -> Catalog:
    """The catalog of an app's deciders, projections and any other consumers it declares."""
    consumers = [
        *app.projections,
        *getattr(app, "consumers", ()),
        *getattr(app, "process_managers", ()),
    ]
    return build_catalog(app.registry, app.deciders, consumers)


def report_json(report: RetractionReport) -> dict[str, JSON]:
    o, r = report.original, report.retraction
    return {
        "retracted_position": o.position, "retracted_type": o.type, "stream": o.stream,
        "position": r.position, "version": r.version, "late": report.late,
        "window_closed_at": report.window_closed_at.isoformat(),
        "blast_radius": [
            {"consumer": x.consumer, "outcome": x.outcome} for x in report.blast_radius
        ],
        "acted": list(report.acted),
    }  # fmt: skip


async def _retract(
    node: ChatNode,
    position: int,
    reason: str,
    by: str,
    listeners: Sequence[RetractionListener] = (),
) -> RetractionReport:
    host = node.read.host

    async def ledger(at: int) -> list[LedgerEntry]:
        return (await host.ledger(at))[1]

    witnesses: list[BlastRadiusSource] = [LedgerWitness(ledger)]
    path = node.data_dir / HOLDS_FILE
    holds = SQLiteHoldStore(path) if path.exists() else None
    if holds is not None:
        witnesses.append(holds)
    try:
        service = RetractionService(node.write.journal, witnesses=witnesses, listeners=listeners)
        return await service.retract(position, reason=reason, by=by)
    finally:
        if holds is not None:
            holds.close()


async def retract(request: Request) -> JSONResponse:
    who = require_admin(request)
    position = path_int(request, "position")
    body = await read_json(request, RetractBody)
    node = node_of(request)
    # the read models compensating by rebuild need no listener: their runners meet
    # the retraction in the journal and the host's hook starts the rebuilds
    listeners = [node.write.runtime.on_retraction]
    report = await _retract(node, position, body.reason, who.name, listeners)
    return JSONResponse(report_json(report), status_code=201)


async def catalog(request: Request) -> JSONResponse:
    require_admin(request)
    found: Catalog = request.app.state.catalog
    doc: JSON = json.loads(render(found, "json"))
    return JSONResponse({"catalog": doc, "mermaid": render(found, "mermaid")})


def routes() -> list[BaseRoute]:
    return [
        Route("/api/admin/events/{position}/retract", retract, methods=["POST"]),
        Route("/api/admin/catalog", catalog, methods=["GET"]),
    ]


def openapi_paths() -> dict[str, JSON]:
    """These endpoints in the OpenAPI document (kept beside the handlers they describe)."""
    s: JSON = {"type": "string"}
    i: JSON = {"type": "integer"}
    exposure = obj(["consumer", "outcome"], consumer=s, outcome=s)
    report = obj(
        ["retracted_position", "position", "version", "late", "window_closed_at", "blast_radius"],
        retracted_position=i, retracted_type=s, stream=s, position=i, version=i,
        late={"type": "boolean"}, window_closed_at=s,
        blast_radius={"type": "array", "items": exposure},
        acted={"type": "array", "items": s},
    )  # fmt: skip
    reason: JSON = {"type": "string", "minLength": 1, "maxLength": 1000}
    return {
        "/api/admin/events/{position}/retract": {
            "post": operation(
                "Retract an event (409: a system event, or already retracted)", 201, report,
                errors=(400, 401, 403, 404, 409, 413),
                params=[param("position", "path", POSITION)],
                body=json_body(obj(["reason"], reason=reason)),
            )
        },
        "/api/admin/catalog": {
            "get": operation(
                "The event catalog (checked at start-up) as JSON, and as Mermaid text", 200,
                obj(["catalog", "mermaid"], catalog={"type": "object"}, mermaid=s),
                errors=(401, 403),
            )
        },
    }  # fmt: skip
