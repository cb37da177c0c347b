"""Request bodies are read from the ASGI messages up to the limit, declared or not:
one chunk or many, an oversize one is 413 before it is all read, a broken one 400."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from kiroku.api.body import read_json
from kiroku.api.problems import handle_error
from kiroku.api.responses import Endpoint, Json
from kiroku.errors import KirokuError


class Text(msgspec.Struct):
    body: str


async def echo(request: Request) -> Json:
    got = await read_json(request, Text, limit=100)
    return Json({"body": got.body})


def _client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/echo", Endpoint(echo), methods=["POST"])],
        exception_handlers={KirokuError: handle_error},
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_a_body_in_many_chunks_without_a_length_is_read_whole() -> None:
    async with _client() as client:
        got = await client.post("/echo", content=_chunks(b'{"bo', b'dy": "hel', b'lo"}'))
    assert got.status_code == 200
    assert got.json() == {"body": "hello"}


async def test_an_oversize_body_is_refused_declared_or_not() -> None:
    big = b'{"body": "' + b"x" * 200 + b'"}'
    async with _client() as client:
        declared = await client.post("/echo", content=big)
        streamed = await client.post("/echo", content=_chunks(big[:60], big[60:]))
    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert streamed.headers["content-type"] == "application/problem+json"


async def test_a_malformed_or_mistyped_body_is_400() -> None:
    async with _client() as client:
        broken = await client.post("/echo", content=b'{"body": ')
        mistyped = await client.post("/echo", content=b'{"body": 5}')
        empty = await client.post("/echo", content=b"")
    assert [broken.status_code, mistyped.status_code, empty.status_code] == [400, 400, 400]
