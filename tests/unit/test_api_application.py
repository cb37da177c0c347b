"""The application: its router answers a fixed path from a dict with the route the
linear scan would choose, and its gate maps errors as Starlette's two error
middleware did (problem documents, faults raised on to the server, nothing sent
twice)."""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Match, Mount, Route
from starlette.types import Scope

from kiroku.api.application import Application, IndexedRouter
from kiroku.api.gate import Gate
from kiroku.api.observe import Metrics
from kiroku.api.server import ServerOptions
from kiroku.errors import InputError


async def ok(request: Request) -> Response:
    return PlainTextResponse(request.url.path)


segments = st.sampled_from(["a", "b", "{x}", "{x:int}", "me", "{rest:path}"])
paths = st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
methods = st.sets(st.sampled_from(["GET", "POST", "DELETE"]), min_size=1)


def _routes(specs: list[tuple[str, set[str]]]) -> list[Route]:
    routes = []
    for path, allowed in specs:
        try:
            routes.append(Route(path, ok, methods=sorted(allowed)))
        except ValueError:  # a path naming one parameter twice
            continue
    return routes


@given(st.lists(st.tuples(paths, methods), min_size=1, max_size=8))
def test_a_fixed_path_finds_the_route_the_scan_finds(specs: list[tuple[str, set[str]]]) -> None:
    routes = _routes(specs)
    router = IndexedRouter(routes, lifespan=None)
    for (method, path), route in router.fixed.items():
        scope: Scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        scanned = next(r for r in routes if r.matches(scope)[0] is Match.FULL)
        assert route is scanned
    for route in routes:  # and every fixed path is indexed for each of its methods
        if not route.param_convertors:
            assert all((m, route.path) in router.fixed for m in route.methods or ())


def test_a_mount_before_a_fixed_path_keeps_it_out_of_the_index() -> None:
    routes = [Mount("/api", routes=[Route("/me", ok)]), Route("/api/me", ok)]
    assert IndexedRouter(routes, lifespan=None).fixed == {}


async def refused(request: Request) -> Response:
    raise InputError("no such thing")


async def missing(request: Request) -> Response:
    raise HTTPException(404, "gone")


async def broken(request: Request) -> Response:
    raise RuntimeError("a bug")


async def broken_late(request: Request) -> Response:
    async def body() -> AsyncIterator[bytes]:
        yield b"half"
        raise RuntimeError("a bug after the answer began")

    return StreamingResponse(body())


def _app(metrics: Metrics) -> Application:
    routes = [
        Route("/ok", ok, methods=["GET"]),
        Route("/refused", refused, methods=["POST"]),
        Route("/missing", missing),
        Route("/broken", broken),
        Route("/broken-late", broken_late),
    ]
    gate = functools.partial(
        Gate, metrics=metrics, routes=routes, is_stream=lambda scope: False,
        stream_owner=lambda scope: None, request_owner=lambda scope: None,
        options=ServerOptions(),
    )  # fmt: skip
    return Application(routes=routes, gate=gate)


def _client(app: Application, *, raise_faults: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_faults)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_errors_are_answered_as_problem_documents() -> None:
    metrics = Metrics()
    async with _client(_app(metrics)) as client:
        assert (await client.get("/ok")).text == "/ok"
        bad = await client.post("/refused")
        gone = await client.get("/missing")
        nowhere = await client.get("/nowhere")
        wrong = await client.post("/ok")
    assert bad.status_code == 400
    assert json.loads(bad.content)["detail"] == "no such thing"
    assert bad.headers["content-type"] == "application/problem+json"
    assert (gone.status_code, json.loads(gone.content)["detail"]) == (404, "gone")
    assert nowhere.status_code == 404
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET, HEAD"
    assert metrics.requests[("POST", "/refused", 400)] == 1
    assert metrics.requests[("GET", "other", 404)] == 1


async def test_a_fault_is_answered_500_and_raised_on_to_the_server() -> None:
    metrics = Metrics()
    async with _client(_app(metrics), raise_faults=False) as client:
        answer = await client.get("/broken")
    assert answer.status_code == 500
    assert "a bug" not in answer.text  # nothing about internals
    assert answer.headers["connection"] == "close"
    async with _client(_app(metrics)) as client:
        with pytest.raises(RuntimeError, match="a bug"):
            await client.get("/broken")
    assert metrics.requests[("GET", "/broken", 500)] == 2


async def test_a_fault_after_the_answer_began_is_raised_not_answered_twice() -> None:
    metrics = Metrics()
    async with _client(_app(metrics)) as client:
        with pytest.raises(RuntimeError, match="after the answer began"):
            await client.get("/broken-late")
    assert metrics.requests == {("GET", "/broken-late", 200): 1}


def test_handlers_must_be_async() -> None:
    def sync_handler(request: Request, exc: Exception) -> Response:
        return Response()

    with pytest.raises(TypeError, match="async"):
        Application(routes=[], gate=Gate, exception_handlers={ValueError: sync_handler})


async def other(request: Request) -> Response:
    return PlainTextResponse("put ahead")


async def test_a_route_put_ahead_after_start_up_is_the_one_that_answers() -> None:
    app = _app(Metrics())
    async with _client(app) as client:
        assert (await client.get("/ok")).text == "/ok"
        app.router.routes.insert(0, Route("/ok", other, methods=["GET"]))
        assert (await client.get("/ok")).text == "put ahead"
        del app.router.routes[0]
        assert (await client.get("/ok")).text == "/ok"
