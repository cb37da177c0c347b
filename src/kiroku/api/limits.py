"""Caps on what one client may hold: live streams, requests in flight, a body's time.

A stream holds a connection, a task and a wake-up for as long as the client
wants; without a cap one user with a script can hold thousands and slow every
post (measured: 2,000 streams from one user, post latency x8). Past the cap a new
stream is refused before it starts: 429 when the caller holds too many, 503 when
the server does, both with ``Retry-After``.

Ordinary requests are capped per user in flight (:class:`UserRequestLimits`), so
one token cannot tie up every worker with slow requests while others wait; the
connection cap covers clients that do not authenticate. A request body has a
deadline (:class:`BodyTimeout`): a client trickling its body would otherwise hold
a coroutine, and the connection, for as long as it likes. A body the server says
has arrived whole (the ``kiroku.body_in`` scope extension, set by
``kiroku.api.server``) is read without a timer: that was an ``asyncio.timeout``
per request on the posting path, ~5 % of the HTTP process's Python time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiroku.api.auth import Principal, authenticated
from kiroku.api.problems import problem
from kiroku.errors import AuthenticationError

__all__ = ["BODY_IN", "BodyTimeout", "StreamLimits", "UserRequestLimits", "bearer_owner"]

BODY_IN = "kiroku.body_in"
"""Scope extension: a callable telling whether the request's whole body has arrived."""


class _PerUserCap:
    """What both caps share: the wrapped app, which requests are streams, whose a
    request is, and how many of them one user may hold at once (counted while held;
    a user holding none is forgotten, so the count does not grow with users seen)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        is_stream: Callable[[Scope], bool],
        owner: Callable[[Scope], str | None],
        per_user: int,
        retry_after: int = 5,
    ) -> None:
        self.app = app
        self.is_stream = is_stream
        self.owner = owner
        self.per_user = per_user
        self.retry_after = str(retry_after)
        self.by_user: Counter[str] = Counter()

    def _refuse(self, status: int, detail: str, kind: str) -> ASGIApp:
        return problem(status, detail, kind=kind, headers={"Retry-After": self.retry_after})

    @contextlib.contextmanager
    def _held(self, user: str | None) -> Iterator[None]:
        if user is None:
            yield
            return
        self.by_user[user] += 1
        try:
            yield
        finally:
            self.by_user[user] -= 1
            if not self.by_user[user]:
                del self.by_user[user]


class StreamLimits(_PerUserCap):
    """ASGI middleware: ``is_stream(scope)`` picks the streams, ``owner(scope)`` names
    their user (None when unauthenticated: the endpoint then answers 401 itself)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        is_stream: Callable[[Scope], bool],
        owner: Callable[[Scope], str | None],
        total: int,
        per_user: int,
        retry_after: int = 5,
    ) -> None:
        super().__init__(
            app, is_stream=is_stream, owner=owner, per_user=per_user, retry_after=retry_after
        )
        self.total = total
        self.open = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.is_stream(scope):
            await self.app(scope, receive, send)
            return
        user = self.owner(scope)
        refusal = self._refusal(user)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        self.open += 1
        try:
            with self._held(user):
                await self.app(scope, receive, send)
        finally:
            self.open -= 1

    def _refusal(self, user: str | None) -> ASGIApp | None:
        if user is not None and self.by_user[user] >= self.per_user:
            detail = f"{user!r} has {self.per_user} live streams open, the most one user may"
            return self._refuse(429, detail, "too-many-streams")
        if self.open >= self.total:
            detail = f"The server has {self.total} live streams open, the most it serves"
            return self._refuse(503, detail, "streams-full")
        return None


def bearer_owner(authenticate: Callable[[str | None], Principal]) -> Callable[[Scope], str | None]:
    """The user an ``Authorization: Bearer`` header authenticates as, else None (the
    endpoint answers 401 or 503 itself). Reads the raw headers: no Request per call."""

    def owner(scope: Scope) -> str | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer" or not token.strip():
                    return None
                try:
                    return authenticated(scope, token.strip(), authenticate).name
                except AuthenticationError:
                    return None
        return None

    return owner


class UserRequestLimits(_PerUserCap):
    """ASGI middleware: at most ``per_user`` requests in flight per authenticated user,
    then 429 with ``Retry-After``. Streams (``is_stream``) are left to :class:`StreamLimits`;
    unauthenticated requests (``owner`` gives None) are not counted here."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.is_stream(scope):
            await self.app(scope, receive, send)
            return
        user = self.owner(scope)
        if user is not None and self.by_user[user] >= self.per_user:
            detail = f"{user!r} has {self.per_user} requests in flight, the most one user may"
            await self._refuse(429, detail, "too-many-requests")(scope, receive, send)
            return
        with self._held(user):
            await self.app(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class BodyTimeout:
    """ASGI middleware: a request's body must arrive within ``seconds`` of the app first
    asking for it, else the read raises a 408 (``Connection: close``: what is left of the
    body is never read). A client that hangs up half-way gets a 400 (which it never
    sees) rather than a fault logged with a traceback. Whoever reads the body, it is
    bounded; once the body is in, ``receive`` is the server's own again (it then waits
    for a disconnect, untimed)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        done = False

        body_in: Callable[[], bool] | None = scope.get("extensions", {}).get(BODY_IN)

        async def timed_receive() -> Message:
            nonlocal deadline, done
            if done:
                return await receive()
            if body_in is not None and body_in():
                message = await receive()  # buffered: answered at once, nothing to time
                if message["type"] == "http.disconnect":
                    raise HTTPException(400, "The client left before sending the whole body")
                done = not message.get("more_body", False)
                return message
            if deadline is None:
                deadline = asyncio.get_running_loop().time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                detail = f"The request body did not arrive within {self.seconds:g} s"
                raise HTTPException(408, detail, headers={"Connection": "close"}) from None
            if message["type"] == "http.disconnect":
                raise HTTPException(400, "The client left before sending the whole body")
            done = not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
