"""Caps on what one client may hold: live streams, requests in flight, a body's time.

A stream holds a connection, a task and a wake-up for as long as the client
wants; without a cap one user with a script can hold thousands and slow every
post (measured: 2,000 streams from one user, post latency x8). Past the cap a new
stream is refused before it starts: 429 when the caller holds too many, 503 when
the server does, both with ``Retry-After``.

Ordinary requests are capped per user in flight, so one token cannot tie up every
worker with slow requests while others wait; the connection cap covers clients
that do not authenticate. A request body has a deadline (:func:`deadline_receive`):
a client trickling its body would otherwise hold a coroutine, and the connection,
for as long as it likes. A body the server says has arrived whole (the
``kiroku.body_in`` scope extension, set by ``kiroku.api.server``) is read without
a timer: that was an ``asyncio.timeout`` per request on the posting path, ~5 % of
the HTTP process's Python time.

These are the parts; :class:`kiroku.api.gate.Gate` applies them, in one layer.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope

from kiroku.api.auth import Principal, authenticated
from kiroku.api.params import bearer_token
from kiroku.errors import AuthenticationError

__all__ = ["BODY_IN", "PerUser", "bearer_owner", "deadline_receive"]

BODY_IN = "kiroku.body_in"
"""Scope extension: a callable telling whether the request's whole body has arrived."""


class PerUser:
    """How many of something each user holds, and whether one may take another: a user
    holding none is forgotten, so the count does not grow with the users seen."""

    __slots__ = ("cap", "held")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.held: Counter[str] = Counter()

    def full(self, user: str) -> bool:
        return self.held[user] >= self.cap

    def take(self, user: str) -> None:
        self.held[user] += 1

    def give(self, user: str) -> None:
        left = self.held[user] - 1
        if left:
            self.held[user] = left
        else:
            del self.held[user]


def bearer_owner(authenticate: Callable[[str | None], Principal]) -> Callable[[Scope], str | None]:
    """The user an ``Authorization: Bearer`` header authenticates as, else None (the
    endpoint answers 401 or 503 itself). Reads the raw headers: no Request per call."""

    def owner(scope: Scope) -> str | None:
        try:
            token = bearer_token(scope)
            return None if token is None else authenticated(scope, token, authenticate).name
        except AuthenticationError:
            return None

    return owner


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


def deadline_receive(scope: Scope, receive: Receive, seconds: float) -> Receive:
    """``receive`` bounded: the body must arrive within ``seconds`` of the app first
    asking for it, else the read raises a 408 (``Connection: close``: what is left of
    the body is never read). A client that hangs up half-way gets a 400 (which it
    never sees) rather than a fault logged with a traceback. Whoever reads the body,
    it is bounded; once the body is in, ``receive`` is the server's own again (it then
    waits for a disconnect, untimed). A request without a body gets ``receive`` back."""
    if not _has_body(scope):
        return receive
    deadline: float | None = None
    done = False
    body_in: Callable[[], bool] | None = scope.get("extensions", {}).get(BODY_IN)

    async def timed_receive() -> Message:
        nonlocal deadline, done
        if done:
            return await receive()
        if body_in is not None and body_in():
            message = await receive()  # buffered: answered at once, nothing to time
        else:
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                detail = f"The request body did not arrive within {seconds:g} s"
                raise HTTPException(408, detail, headers={"Connection": "close"}) from None
        if message["type"] == "http.disconnect":
            raise HTTPException(400, "The client left before sending the whole body")
        done = not message.get("more_body", False)
        return message

    return timed_receive
