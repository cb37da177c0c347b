"""Caps on open live streams, in total and per user.

A stream holds a connection, a task and a wake-up for as long as the client
wants; without a cap one user with a script can hold thousands and slow every
post (measured: 2,000 streams from one user, post latency x8). Past the cap a new
stream is refused before it starts: 429 when the caller holds too many, 503 when
the server does, both with ``Retry-After``. Requests that are not streams pass
through untouched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from kiroku.api.problems import problem

__all__ = ["StreamLimits"]


class StreamLimits:
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
        self.app = app
        self.is_stream = is_stream
        self.owner = owner
        self.total = total
        self.per_user = per_user
        self.retry_after = str(retry_after)
        self.open = 0
        self.by_user: Counter[str] = Counter()

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
        if user is not None:
            self.by_user[user] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open -= 1
            if user is not None:
                self.by_user[user] -= 1
                if not self.by_user[user]:
                    del self.by_user[user]

    def _refusal(self, user: str | None) -> ASGIApp | None:
        headers = {"Retry-After": self.retry_after}
        if user is not None and self.by_user[user] >= self.per_user:
            detail = f"{user!r} has {self.per_user} live streams open, the most one user may"
            return problem(429, detail, kind="too-many-streams", headers=headers)
        if self.open >= self.total:
            detail = f"The server has {self.total} live streams open, the most it serves"
            return problem(503, detail, kind="streams-full", headers=headers)
        return None
