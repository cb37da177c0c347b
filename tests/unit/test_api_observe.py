"""Request metrics label each request with its route's template, found from the
endpoint the router chose (one route match per request), and JSON answers and
plain-ASGI endpoints behave as Starlette's own: same bytes, same error mapping."""

from __future__ import annotations

import json
import re

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kiroku.api.gate import Gate
from kiroku.api.observe import Metrics
from kiroku.api.problems import handle_error
from kiroku.api.responses import Endpoint, Json
from kiroku.api.server import ServerOptions
from kiroku.errors import InputError, KirokuError


async def shared(request: Request) -> Response:
    return Response(status_code=204)


async def item(request: Request) -> Response:
    if request.path_params["item_id"] == "bad":
        raise InputError("bad item")
    return Json({"item": request.path_params["item_id"], "text": "ünï"}, status_code=201)


def _app(metrics: Metrics) -> Starlette:
    routes = [
        Route("/items/{item_id}", Endpoint(item), methods=["POST"]),
        Route("/a/{x}", shared, methods=["GET"]),
        Route("/b/{x}", shared, methods=["GET"]),
        Route("/refused/{x}", shared, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Gate,
                metrics=metrics,
                routes=routes,
                is_stream=lambda scope: scope["path"].startswith("/refused/"),
                stream_owner=lambda scope: "ann",
                request_owner=lambda scope: None,
                options=ServerOptions(max_streams_per_user=0),  # every "stream" refused: 429
            )
        ],
        exception_handlers={KirokuError: handle_error, Exception: handle_error},
    )


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_each_request_is_labelled_with_its_routes_template() -> None:
    metrics = Metrics()
    async with _client(_app(metrics)) as client:
        assert (await client.post("/items/7")).status_code == 201
        assert (await client.post("/items/bad")).status_code == 400
        assert (await client.get("/items/7")).status_code == 405
        assert (await client.get("/a/1")).status_code == 204
        assert (await client.get("/b/2")).status_code == 204
        assert (await client.get("/nowhere")).status_code == 404
        assert (await client.get("/refused/3")).status_code == 429
    assert metrics.requests == {
        ("POST", "/items/{item_id}", 201): 1,
        ("POST", "/items/{item_id}", 400): 1,
        ("GET", "other", 405): 1,  # the path's route, but not for this method
        ("GET", "/a/{x}", 204): 1,  # one endpoint serving two routes: told apart by matching
        ("GET", "/b/{x}", 204): 1,
        ("GET", "other", 404): 1,
        ("GET", "/refused/{x}", 429): 1,  # answered before routing: matched here
    }


async def test_histogram_buckets_render_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.0005, 0.003, 0.003, 0.2, 60.0):
        metrics.observe("GET", "/x", 200, seconds)
    text = metrics.render()
    found = re.findall(r'kiroku_http_request_seconds_bucket\{le="([^"]+)",[^}]*\} (\d+)', text)
    buckets = dict(found)
    assert buckets["0.001"] == "1"
    assert buckets["0.0025"] == "1"
    assert buckets["0.005"] == "3"
    assert buckets["0.25"] == "4"
    assert buckets["10.0"] == "4"
    assert buckets["+Inf"] == "5"
    assert "kiroku_http_request_seconds_count{" in text


async def test_json_answers_match_starlettes_bytes() -> None:
    content = {"a": 1, "b": [True, None, 2.5], "text": 'ünï \u2028 "q"', "n": {"x": "y"}}
    assert Json(content).body == JSONResponse(content).body
    assert Json(content).headers["content-type"] == "application/json"


async def test_an_asgi_endpoint_maps_errors_like_a_function_endpoint() -> None:
    async with _client(_app(Metrics())) as client:
        ok = await client.post("/items/7")
        bad = await client.post("/items/bad")
    assert ok.json() == {"item": "7", "text": "ünï"}
    assert bad.headers["content-type"] == "application/problem+json"
    assert json.loads(bad.content)["detail"] == "bad item"
