"""The operations console in the OpenAPI document: projections (replay, rebuild),
events and their ledger, parked events (lists, groups, retry, skip, bulk).

Kept beside the handlers (``http_ops``, ``http_ops_events``, ``http_ops_parked``);
the chat's ``openapi.document`` merges these paths with its own.
"""

from __future__ import annotations

from kiroku import JSON
from kiroku.api.openapi import json_body, obj, operation, param, ref
from kiroku.api.params import MAX_POSITION as _MAX

__all__ = ["STREAM", "openapi_paths"]

STREAM: JSON = {
    "type": "string", "maxLength": 200, "pattern": "^([a-z][a-z0-9_.]*-[A-Za-z0-9_.:@+=~-]+)?$",
}  # fmt: skip
"""A stream name (``category-id``), or empty for every stream."""

_S: JSON = {"type": "string"}
_REF: JSON = {"type": "string", "pattern": "^[a-z][a-z0-9_.]*:[0-9]{1,18}$"}
_POS: JSON = {"type": "integer", "minimum": 0}
_POSITION: JSON = {"type": "integer", "minimum": 0, "maximum": _MAX}
_ERR = (400, 401, 403, 404)


def _limit(high: int) -> JSON:
    return param("limit", "query", {"type": "integer", "minimum": 1, "maximum": high})


def _admin_paths() -> dict[str, JSON]:
    row = obj(["name", "state", "position", "head", "replay_safe"], replay_safe={"type": "boolean"})
    name = param("name", "path", _S)
    replay = obj(
        [], from_position={"type": ["integer", "null"], "minimum": 1, "maximum": _MAX},
        from_time={"type": ["string", "null"], "format": "date-time", "minLength": 1},
    )  # fmt: skip
    replay["anyOf"] = [  # one of the two, not null
        {"required": ["from_position"], "properties": {"from_position": {"type": "integer"}}},
        {"required": ["from_time"], "properties": {"from_time": {"type": "string"}}},
    ]
    task = obj(["name", "task"], name=_S, task={"type": "object"})
    ident = param("ident", "path", _POSITION)
    skip = obj(["reason"], reason={"type": "string", "minLength": 1, "maxLength": 1000})
    resolved = obj(["name", "id", "status"], name=_S, id={"type": "integer"}, status=_S)
    return {
        "/api/admin/projections": {
            "get": operation(
                "Projections: position, lag, state, parked, task, whether replay is allowed", 200,
                obj(["projections"], projections={"type": "array", "items": row}),
                errors=_ERR,
            )
        },
        "/api/admin/projections/{name}/replay": {
            "post": operation(
                "Replay one projection from a position or time", 202, task,
                errors=(*_ERR, 409, 413, 422), params=[name], body=json_body(replay),
            )
        },
        "/api/admin/projections/{name}/rebuild": {
            "post": operation(
                "Rebuild one projection beside the live one, then swap", 202, task,
                errors=(*_ERR, 409), params=[name],
            )
        },
        "/api/admin/events/{position}": {
            "get": operation(
                "One event and its consumption ledger", 200,
                obj(["event", "ledger"], event=ref("Event"), ledger={"type": "array"}),
                errors=_ERR, params=[param("position", "path", _POSITION)],
            )
        },
        "/api/admin/parked/{name}/{ident}/retry": {
            "post": operation(
                "Apply a parked event again, then the events it held back", 200, resolved,
                errors=(*_ERR, 409), params=[name, ident],
            )
        },
        "/api/admin/parked/{name}/{ident}/skip": {
            "post": operation(
                "Skip a parked event, with the reason on the record", 200, resolved,
                errors=(*_ERR, 409, 413), params=[name, ident], body=json_body(skip),
            )
        },
    }  # fmt: skip


def openapi_paths() -> dict[str, JSON]:
    page: JSON = {"type": "array", "items": {"type": "object"}}
    cursor: JSON = {"type": ["object", "null"]}
    bulk = obj(
        ["action"], action={"enum": ["retry", "skip"]},
        refs={"type": "array", "items": _REF, "minItems": 1, "maxItems": 1000},
        group=obj(["projection", "error"], projection=_S, error=_S),
        reason={"type": "string", "maxLength": 1000},
    )  # fmt: skip
    # either a selection or a group, and a skip always says why
    bulk["oneOf"] = [{"required": ["refs"]}, {"required": ["group"]}]
    bulk["if"] = {"properties": {"action": {"const": "skip"}}}
    bulk["then"] = {"required": ["reason"], "properties": {"reason": {"pattern": "\\S"}}}
    read = "/api/read/{projection}"
    projection = param("projection", "path", _S)
    collection = param("collection", "path", _S)
    return {
        **_admin_paths(),
        "/api/app": {
            "get": operation(
                "Which app is served: its name, whether it is the chat, its projections", 200,
                obj(["name", "chat", "projections"]), errors=(), secure=False,
            )
        },
        read: {
            "get": operation(
                "A projection's document collections", 200, obj(["projection", "collections"]),
                errors=_ERR, params=[projection],
            )
        },
        read + "/{collection}": {
            "get": operation(
                "A page of a collection's documents in id order", 200,
                obj(["documents", "next"], documents=page, next={"type": ["string", "null"]}),
                errors=_ERR,
                params=[projection, collection, param("after", "query", _S), _limit(500)],
            )
        },
        read + "/{collection}/{id}": {
            "get": operation(
                "One document", 200, obj(["id", "doc"]), errors=_ERR,
                params=[projection, collection, param("id", "path", _S)],
            )
        },
        "/api/admin/events": {
            "get": operation(
                "The journal newest first (or oldest first from ?after=), a page and a cursor",
                200, obj(["events", "next", "head"], events=page, next=cursor, head=_POS),
                errors=_ERR,
                params=[
                    param("before", "query", {"type": "integer", "minimum": 1}),
                    param("after", "query", _POS), param("at", "query", _S),
                    param("id", "query", _S), param("type", "query", _S),
                    param("stream", "query", STREAM), _limit(1000),
                ],
            )
        },
        "/api/admin/parked": {
            "get": operation(
                "Parked events, a page at a time (open ones unless ?all=1)", 200,
                obj(["parked", "next"], parked=page, next={"type": ["string", "null"]}),
                errors=_ERR,
                params=[
                    param("cursor", "query", _S), param("projection", "query", _S),
                    param("error", "query", _S), param("all", "query", _S), _limit(500),
                ],
            )
        },
        "/api/admin/parked/groups": {
            "get": operation(
                "Open parked events counted per projection and error", 200,
                obj(["groups"], groups=page), errors=_ERR,
            )
        },
        "/api/admin/parked/bulk": {
            "post": operation(
                "Retry or skip a selection (refs) or a group of parked events, one reason",
                200, obj(["action", "selected", "done", "failed"]),
                errors=(*_ERR, 413), body=json_body(bulk),
            )
        },
    }  # fmt: skip
