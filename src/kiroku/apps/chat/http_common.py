"""What every chat endpoint needs: the node, the caller, parameters, read-your-writes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import cast

from starlette.requests import Request
from starlette.types import Scope

from kiroku import NotAllowedError, OutsideJournalError
from kiroku.api.auth import Principal, authenticated
from kiroku.api.params import MAX_POSITION, bearer_token, parse_int
from kiroku.apps.chat.node import ChatNode
from kiroku.apps.chat.rules import NotMemberError, RoomNotFoundError
from kiroku.errors import AuthenticationError
from kiroku.projections import Document

__all__ = [
    "READ_WAIT_SECONDS",
    "caller",
    "int_param",
    "is_stream",
    "member_room",
    "node_of",
    "path_int",
    "require_admin",
    "stream_owner",
    "wait_for_reads",
]

READ_WAIT_SECONDS = 5.0
"""How long a read with ``min_position`` waits for the read model before answering 503."""


def node_of(request: Request) -> ChatNode:
    return cast(ChatNode, request.app.state.node)


def caller(request: Request, *, allow_query_token: bool = False) -> Principal:
    """The bearer token's user; ``?access_token=`` only where a browser cannot send headers."""
    token = bearer_token(request.scope)
    if token is None and allow_query_token:
        token = request.query_params.get("access_token", "").strip() or None
    return authenticated(request.scope, token, node_of(request).users.authenticate)


def require_admin(request: Request) -> Principal:
    who = caller(request)
    if not who.admin:
        raise NotAllowedError(f"{who.name!r} is not an admin")
    return who


def int_param(
    request: Request,
    name: str,
    default: int | None = None,
    *,
    low: int = 0,
    high: int = MAX_POSITION,
) -> int | None:
    """A query parameter through the one integer parser; ``default`` when absent or empty."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    return parse_int(raw, name, low=low, high=high)


def path_int(request: Request, name: str, *, low: int = 0, high: int = MAX_POSITION) -> int:
    """A path segment through the one integer parser: 400 for anything but ASCII digits in
    range (Starlette's ``:int`` converter would 404 some and overflow on others)."""
    return parse_int(str(request.path_params[name]), name, low=low, high=high)


def is_stream(scope: Scope) -> bool:
    """The live streams: ``/api/stream`` and ``/api/rooms/{room_id}/stream``."""
    path: str = scope["path"]
    return scope["method"] == "GET" and (path == "/api/stream" or path.endswith("/stream"))


def stream_owner(node: ChatNode) -> Callable[[Scope], str | None]:
    """The user a stream request authenticates as, by the rules ``caller`` applies; None
    when it does not (the endpoint answers 401 itself)."""

    def owner(scope: Scope) -> str | None:
        try:
            token = bearer_token(scope)
        except AuthenticationError:  # another scheme: the endpoint says so
            token = None
        if token is None:
            token = Request(scope).query_params.get("access_token", "").strip() or None
        try:
            return authenticated(scope, token, node.users.authenticate).name
        except AuthenticationError:
            return None

    return owner


async def wait_for_reads(request: Request, names: Sequence[str]) -> None:
    """Read-your-writes: with ``min_position=N``, wait (bounded) until ``names`` processed N."""
    position = int_param(request, "min_position")
    if not position:
        return
    node = node_of(request)
    head = await node.read.journal.head_position()
    if position > head:
        raise OutsideJournalError(f"min_position={position} is past the journal's head ({head})")
    await node.read.host.wait_for(position, READ_WAIT_SECONDS, names)


async def member_room(request: Request, who: Principal, room_id: str) -> Document:
    """The room's current document, if ``who`` may read it (a member, or an admin)."""
    view = node_of(request).read.host.reader("chat.rooms")
    room = await view.collection("rooms").get(room_id)
    if room is None:
        raise RoomNotFoundError(room_id)
    if not who.admin and await view.collection("members").get(f"{room_id}|{who.name}") is None:
        raise NotMemberError(room_id, who.name)
    return room
