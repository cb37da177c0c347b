"""The chat HTTP API as an OpenAPI 3.1 document, served at ``/openapi.json``.

Written by hand as a table of operations, next to the handlers it describes; the
schemathesis run against a live server checks that they agree.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiroku import JSON
from kiroku.api.openapi import PROBLEM_SCHEMA, json_body, obj, operation, param, ref
from kiroku.api.params import MAX_POSITION, MAX_SEARCH
from kiroku.apps.chat.http_corrections import openapi_paths as correction_paths
from kiroku.apps.chat.http_ops_openapi import openapi_paths as ops_list_paths

__all__ = ["document"]

S: JSON = {"type": "string"}
INT: JSON = {"type": "integer"}
B: JSON = {"type": "boolean"}
NS: JSON = {"type": ["string", "null"]}
POS: JSON = {"type": "integer", "minimum": 0, "maximum": MAX_POSITION}

NAME: JSON = {"type": "string", "minLength": 1, "maxLength": 100}
BODY: JSON = {"type": "string", "minLength": 1, "maxLength": 10_000}
USER: JSON = {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,32}$", "examples": ["bob"]}
ROOM_ID = param(
    "room_id", "path",
    {"type": "string", "pattern": "^[A-Za-z0-9_.:@+=~-]{1,195}$", "examples": ["general"]},
)  # fmt: skip
MESSAGE_ID = param("message_id", "path", {"type": "string", "examples": ["welcome"]})
MIN_POSITION = param("min_position", "query", POS)
AS_OF = param(  # a position, or a time (UTC when it has no zone)
    "as_of", "query",
    {"anyOf": [
        {"type": "integer", "minimum": 0, "maximum": MAX_POSITION},
        {"type": "string", "format": "date-time"},
        {"type": "string", "maxLength": 0},  # empty: the present, as when left out
    ]},
)  # fmt: skip
KEY = param("Idempotency-Key", "header", {"type": "string", "minLength": 1, "maxLength": 200})

SEARCH: JSON = {
    "type": "string", "minLength": 1, "maxLength": MAX_SEARCH,
    # a word, and no control characters but tab, line feed and carriage return
    "pattern": "^(?=[\\s\\S]*\\S)[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f-\\u009f]*$",
}  # fmt: skip

READ_ERR = (400, 401, 403, 404, 422, 503)
WRITE_ERR = (400, 401, 403, 404, 409, 413, 422, 503)
ADMIN_ERR = (400, 401, 403, 404)

SCHEMAS: dict[str, JSON] = {
    "Problem": PROBLEM_SCHEMA,
    "Written": obj(["position", "version"], position=INT, version=INT),
    "Message": obj(
        ["message_id", "author", "body", "posted_at", "edited_at", "deleted"],
        message_id=S, author=S, body=S, posted_at=S, edited_at=NS, deleted=B,
    ),
    "RoomSummary": obj(
        ["room_id", "name", "owner", "archived", "version", "unread"],
        room_id=S, name=S, owner=S, archived=B, version=INT, unread=INT,
        last_message={"type": ["object", "null"]},
    ),
    "Room": obj(
        ["room_id", "name", "owner", "members", "archived", "version"],
        room_id=S, name=S, owner=S, members={"type": "array", "items": S}, archived=B,
        version=INT, created_at=S,
    ),
    "HistoryEntry": obj(
        ["room_id", "version", "position", "type", "occurred_at", "data"],
        room_id=S, version=INT, position=INT, type=S, occurred_at=S, event_id=S,
        data={"type": "object"},
    ),
    "Event": obj(
        ["position", "stream", "version", "type", "schema_version", "event_id", "occurred_at"],
        position=INT, stream=S, version=INT, type=S, schema_version=INT, event_id=S, occurred_at=S,
        data={}, metadata={"type": "object"},
    ),
}  # fmt: skip


def _list(key: str, item: JSON) -> JSON:
    return obj([key], **{key: {"type": "array", "items": item}})


def _written(*ids: str) -> JSON:
    return {"allOf": [ref("Written"), obj(list(ids), **dict.fromkeys(ids, S))]}


def _command(summary: str, *, params: Sequence[JSON], body: JSON | None = None) -> dict[str, JSON]:
    return operation(
        summary, 200, ref("Written"), errors=WRITE_ERR, params=[*params, KEY],
        body=json_body(body) if body is not None else None,
    )  # fmt: skip


def _write_paths() -> dict[str, JSON]:
    room = [ROOM_ID]
    return {
        "/api/rooms": {
            "post": operation(
                "Create a room; the caller is its owner", 201, _written("room_id"),
                errors=WRITE_ERR, params=[KEY],
                body=json_body(obj(["name"], name=NAME, members={"type": "array", "items": USER})),
            ),
            "get": operation(
                "The caller's rooms, with last message and unread count", 200,
                _list("rooms", ref("RoomSummary")), errors=READ_ERR, params=[MIN_POSITION],
            ),
        },
        "/api/rooms/{room_id}/rename": {
            "post": _command("Rename a room", params=room, body=obj(["name"], name=NAME))
        },
        "/api/rooms/{room_id}/members": {
            "post": _command("Add a member", params=room, body=obj(["user"], user=USER))
        },
        "/api/rooms/{room_id}/members/{user}": {
            "delete": _command(
                "Remove a member (the owner), or leave (oneself)",
                params=[ROOM_ID, param("user", "path", USER)],
            )
        },
        "/api/rooms/{room_id}/archive": {"post": _command("Archive a room (owner)", params=room)},
        "/api/rooms/{room_id}/read": {
            "post": _command(
                "Mark the room read up to a message", params=room,
                body=obj(["message_id"], message_id=S),
            )
        },
    }  # fmt: skip


def _message_paths() -> dict[str, JSON]:
    msg = [ROOM_ID, MESSAGE_ID]
    return {
        "/api/rooms/{room_id}/messages": {
            "post": operation(
                "Post a message", 201, _written("message_id"), errors=WRITE_ERR,
                params=[ROOM_ID, KEY], body=json_body(obj(["body"], body=BODY)),
            ),
            "get": operation(
                "Messages, newest first", 200, _list("messages", ref("Message")),
                errors=READ_ERR,
                params=[
                    ROOM_ID, MIN_POSITION, AS_OF, param("before", "query", S),
                    param("after", "query", S),
                    param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 500}),
                ],
            ),
        },
        "/api/rooms/{room_id}/messages/{message_id}": {
            "patch": _command("Edit one's message", params=msg, body=obj(["body"], body=BODY)),
            "delete": _command("Delete a message (author or owner)", params=msg),
        },
    }  # fmt: skip


def _read_paths() -> dict[str, JSON]:
    return {
        "/api/me": {
            "get": operation(
                "Who the token belongs to", 200, obj(["name", "admin"], name=S, admin=B),
                errors=(401,),
            )
        },
        "/api/demo": {
            "get": operation(
                "Demo users and their tokens (only under serve --demo)", 200,
                _list("users", obj(["name", "admin", "token"], name=S, admin=B, token=S)),
                errors=(404,), secure=False,
            )
        },
        "/api/rooms/{room_id}": {
            "get": operation(
                "A room's details", 200, ref("Room"), errors=READ_ERR,
                params=[ROOM_ID, MIN_POSITION, AS_OF],
            )
        },
        "/api/rooms/{room_id}/history": {
            "get": operation(
                "The room's events, oldest first (audit log)", 200,
                _list("events", ref("HistoryEntry")), errors=READ_ERR,
                params=[
                    ROOM_ID, MIN_POSITION, AS_OF, param("after", "query", POS),
                    param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
            )
        },
        "/api/rooms/{room_id}/stream": {
            "get": operation(
                "Live room events (server-sent events; ids are room versions; "
                "'end' and 'resume' frames close it)", 200, S,
                errors=READ_ERR, media="text/event-stream",
                params=[
                    ROOM_ID, param("after", "query", POS), param("access_token", "query", S),
                    param("Last-Event-ID", "header", S),
                ],
            )
        },
        "/api/stream": {
            "get": operation(
                "The caller's rooms, live (server-sent 'rooms' events: the whole list)", 200, S,
                errors=(401, 503), media="text/event-stream",
                params=[param("access_token", "query", S)],
            )
        },
        "/api/search": {
            "get": operation(
                "Full-text search over the caller's rooms", 200,
                _list("results", obj(["room_id", "message_id", "author", "body"])),
                errors=READ_ERR,
                params=[
                    param("q", "query", SEARCH, required=True),
                    MIN_POSITION,
                    param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 100}),
                ],
            )
        },
    }  # fmt: skip


def _probe_paths() -> dict[str, JSON]:
    text: JSON = {"type": "string"}
    return {
        "/metrics": {
            "get": operation(
                "Prometheus metrics", 200, text, errors=(), media="text/plain", secure=False
            )
        },
        "/healthz": {
            "get": operation("Liveness", 200, obj(["status"], status=S), errors=(), secure=False)
        },
        "/readyz": {
            "get": operation(
                "Readiness: every projection running", 200, obj(["status"], status=S),
                errors=(503,), secure=False,
            )
        },
    }  # fmt: skip


def document() -> dict[str, JSON]:
    paths: dict[str, JSON] = {
        **_write_paths(), **_message_paths(), **_read_paths(), **correction_paths(),
        **_probe_paths(), **ops_list_paths(),
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "kiroku chat", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
