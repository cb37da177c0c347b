"""The browser UI: a chat client and an operations dashboard.

Everything here is static: one HTML page, a stylesheet and plain ES modules that
talk to the HTTP API under ``/api``. Nothing is built or downloaded at run time,
so the page works wherever the server's package is installed.
"""

from __future__ import annotations

import os
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

__all__ = ["SECURITY_HEADERS", "routes"]

# The page loads only its own scripts, styles and API; nothing inline, nothing
# from elsewhere. That makes an injected <script> in a message body inert even
# if some rendering path ever forgot to escape it.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The page is tiny and changes with each release; always revalidate it.
    "Cache-Control": "no-cache",
}


class _StaticAssets(StaticFiles):
    """Static files that browsers revalidate, so an upgrade is never half-loaded."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _index_html() -> str:
    return files(__name__).joinpath("static", "index.html").read_text(encoding="utf-8")


async def _index(_request: Request) -> Response:
    return HTMLResponse(_index_html(), headers=SECURITY_HEADERS)


def routes() -> list[BaseRoute]:
    """The page at ``/`` and its assets under ``/static``."""
    return [
        Route("/", _index, methods=["GET", "HEAD"], name="web-index"),
        Mount("/static", app=_StaticAssets(packages=[(__name__, "static")]), name="static"),
    ]
