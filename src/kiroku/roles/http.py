"""The role-aware ``/readyz``: a read node is ready without running projections."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kiroku.roles.node import RoleNode

__all__ = ["install_readyz"]


def install_readyz(app: Starlette, roles: RoleNode) -> None:
    """Answer ``/readyz`` per role (ahead of the app's own route): 200 when every role
    this process runs is ok, else 503 naming the role and why."""

    async def readyz(request: Request) -> JSONResponse:
        checks = await roles.ready()
        failing = {role: why for role, why in checks.items() if why != "ok"}
        body = {
            "status": "not ready" if failing else "ready",
            "roles": checks,
            "failing": sorted(failing),
        }
        return JSONResponse(body, status_code=503 if failing else 200)

    app.router.routes.insert(0, Route("/readyz", readyz, methods=["GET"]))
