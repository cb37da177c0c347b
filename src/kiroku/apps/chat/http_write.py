"""The Write API: each endpoint turns a request into one Room command.

Ids are made here, not in ``decide``: with an ``Idempotency-Key`` they are
derived from the caller and the key, so a retried request addresses the same
room or message and appends nothing new; without one they are random UUIDs.

These routes carry the posting load, so they are plain ASGI endpoints answering
with msgspec-encoded JSON (see ``kiroku.api.responses``).
"""

from __future__ import annotations

import uuid

import msgspec
from starlette.requests import Request
from starlette.routing import BaseRoute, Route

from kiroku import IdempotencyKeyReusedError, InputError
from kiroku.api.auth import Principal
from kiroku.api.body import read_json
from kiroku.api.params import header
from kiroku.api.responses import Endpoint, Json
from kiroku.apps.chat import commands as c
from kiroku.apps.chat.http_common import caller, node_of
from kiroku.apps.chat.room import Room
from kiroku.apps.chat.rules import UnknownUserError
from kiroku.domain.ids import new_id

__all__ = ["routes"]

_NAMESPACE = uuid.UUID("5b0f3a52-8d0e-4c55-a7a4-0b7f3c1d2e90")
MAX_KEY = 200


class RoomBody(msgspec.Struct):
    name: str
    members: list[str] = []


class NameBody(msgspec.Struct):
    name: str


class UserBody(msgspec.Struct):
    user: str


class TextBody(msgspec.Struct):
    body: str


class MarkBody(msgspec.Struct):
    message_id: str


def _key(request: Request, who: Principal) -> str | None:
    key = header(request.scope, b"idempotency-key")
    if key is None:
        return None
    if not key or len(key) > MAX_KEY:
        raise InputError(f"Idempotency-Key must be 1 to {MAX_KEY} characters, got {len(key)}")
    return f"{who.name}:{key}"  # keys are per user: two users never collide


def _new_id(key: str | None, *scope: str) -> str:
    if key is None:
        return new_id().hex  # time-ordered: read models keyed by it append in order
    return uuid.uuid5(_NAMESPACE, "|".join((*scope, key))).hex


def _check_users(request: Request, names: list[str]) -> None:
    users = node_of(request).users
    for name in names:
        if not users.exists(name):
            raise UnknownUserError(name)


async def _run(
    request: Request,
    room_id: str,
    command: c.RoomCommand,
    key: str | None,
    status: int = 200,
    ids: dict[str, str] | None = None,
) -> Json:
    """Execute; a command that decided nothing (a retry) answers with the journal's head,
    which is at or past whatever the original request wrote."""
    node = node_of(request)
    try:
        result = await node.write.runtime.execute(Room, room_id, command, idempotency_key=key)
    except IdempotencyKeyReusedError as e:  # name the key as the caller sent it
        sent = header(request.scope, b"idempotency-key")
        raise IdempotencyKeyReusedError(sent or e.key) from None
    position = result.position or await node.write.journal.head_position()
    body = {**(ids or {}), "position": position, "version": result.version}
    return Json(body, status_code=status)


async def create_room(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, RoomBody)
    _check_users(request, body.members)
    key = _key(request, who)
    room_id = _new_id(key, "room")
    command = c.CreateRoom(room_id, body.name, who.name, tuple(body.members))
    return await _run(request, room_id, command, key, 201, {"room_id": room_id})


async def rename(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, NameBody)
    room_id = request.path_params["room_id"]
    command = c.RenameRoom(room_id, body.name, who.name)
    return await _run(request, room_id, command, _key(request, who))


async def add_member(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, UserBody)
    _check_users(request, [body.user])
    room_id = request.path_params["room_id"]
    command = c.AddMember(room_id, body.user, who.name)
    return await _run(request, room_id, command, _key(request, who))


async def remove_member(request: Request) -> Json:
    who = caller(request)
    room_id, user = request.path_params["room_id"], request.path_params["user"]
    command = c.RemoveMember(room_id, user, who.name)
    return await _run(request, room_id, command, _key(request, who))


async def archive(request: Request) -> Json:
    who = caller(request)
    room_id = request.path_params["room_id"]
    return await _run(request, room_id, c.ArchiveRoom(room_id, who.name), _key(request, who))


async def post_message(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, TextBody)
    room_id = request.path_params["room_id"]
    key = _key(request, who)
    message_id = _new_id(key, "message", room_id)
    command = c.PostMessage(room_id, message_id, body.body, who.name)
    return await _run(request, room_id, command, key, 201, {"message_id": message_id})


async def edit_message(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, TextBody)
    room_id, message_id = request.path_params["room_id"], request.path_params["message_id"]
    command = c.EditMessage(room_id, message_id, body.body, who.name)
    return await _run(request, room_id, command, _key(request, who))


async def delete_message(request: Request) -> Json:
    who = caller(request)
    room_id, message_id = request.path_params["room_id"], request.path_params["message_id"]
    command = c.DeleteMessage(room_id, message_id, who.name)
    return await _run(request, room_id, command, _key(request, who))


async def mark_read(request: Request) -> Json:
    who = caller(request)
    body = await read_json(request, MarkBody)
    room_id = request.path_params["room_id"]
    command = c.MarkRead(room_id, body.message_id, who.name)
    return await _run(request, room_id, command, _key(request, who))


def routes() -> list[BaseRoute]:
    room = "/api/rooms/{room_id}"
    message = room + "/messages/{message_id}"
    return [  # matched in order: the posting route, the one taken most, comes first
        Route(room + "/messages", Endpoint(post_message), methods=["POST"]),
        Route("/api/rooms", Endpoint(create_room), methods=["POST"]),
        Route(room + "/rename", Endpoint(rename), methods=["POST"]),
        Route(room + "/members", Endpoint(add_member), methods=["POST"]),
        Route(room + "/members/{user}", Endpoint(remove_member), methods=["DELETE"]),
        Route(room + "/archive", Endpoint(archive), methods=["POST"]),
        Route(message, Endpoint(edit_message), methods=["PATCH"]),
        Route(message, Endpoint(delete_message), methods=["DELETE"]),
        Route(room + "/read", Endpoint(mark_read), methods=["POST"]),
    ]
