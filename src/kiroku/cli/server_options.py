"""``kiroku serve``'s flags for the HTTP server's timeouts and caps, gathered into one
:class:`~kiroku.api.server.ServerOptions` (defaults documented in docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from kiroku.api.server import ServerOptions

__all__ = ["server_options"]

_D = ServerOptions()
_FLAGS: list[tuple[str, str, Any, str]] = [
    ("--header-timeout", "header_timeout", click.FloatRange(min=0, min_open=True),
     "Seconds a client has to send a request's headers (then 408 and closed)."),
    ("--keep-alive-timeout", "keep_alive_timeout", click.FloatRange(min=0, min_open=True),
     "Seconds an idle keep-alive connection stays open."),
    ("--max-connections", "max_connections", click.IntRange(min=1),
     "Open connections at most (lowered to fit the descriptor limit); then 503."),
    ("--max-streams", "max_streams", click.IntRange(min=1),
     "Open live streams at most, all users together; then 503."),
    ("--max-streams-per-user", "max_streams_per_user", click.IntRange(min=1),
     "Open live streams per user at most; then 429."),
    ("--max-requests-per-user", "max_requests_per_user", click.IntRange(min=1),
     "Requests in flight per user at most, streams aside; then 429."),
    ("--body-timeout", "body_timeout", click.FloatRange(min=0, min_open=True),
     "Seconds a client has to send a request's body (then 408 and closed)."),
]  # fmt: skip

F = Callable[..., Any]


def server_options(command: F) -> F:
    """Add the flags to ``command`` and hand it ``limits=ServerOptions(...)`` instead."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        values = {field: kwargs.pop(field) for _, field, _, _ in _FLAGS}
        return command(*args, limits=ServerOptions(**values), **kwargs)

    wrapped.__name__ = command.__name__
    wrapped.__doc__ = command.__doc__
    for flag, field, kind, help_text in reversed(_FLAGS):
        wrapped = click.option(
            flag, field, type=kind, default=getattr(_D, field), show_default=True, help=help_text
        )(wrapped)
    return wrapped
