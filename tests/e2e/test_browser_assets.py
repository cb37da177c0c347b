"""The web UI's routes and assets, checked without a browser: the page, its headers,
and that every ES module the page imports is served as JavaScript."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib.resources import files

import httpx
import pytest
from starlette.applications import Starlette

from kiroku.web import SECURITY_HEADERS, routes

STATIC = files("kiroku.web").joinpath("static")
IMPORT = re.compile(r"""^\s*import\s[^;]*?from\s+"(\./[^"]+)";""", re.MULTILINE | re.DOTALL)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=Starlette(routes=routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield client


async def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert (
        response.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert '<script type="module" src="/static/js/app.js"></script>' in response.text


def test_the_page_has_no_inline_script_or_style_that_the_policy_would_block() -> None:
    html = STATIC.joinpath("index.html").read_text(encoding="utf-8")
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None
    assert "<style" not in html
    assert " style=" not in html


async def test_every_module_the_page_imports_is_served_as_javascript(
    client: httpx.AsyncClient,
) -> None:
    seen: set[str] = set()
    pending = ["app.js"]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        response = await client.get(f"/static/js/{name}")
        assert response.status_code == 200, name
        assert "javascript" in response.headers["content-type"], name
        assert response.headers["cache-control"] == "no-cache"
        pending.extend(path.removeprefix("./") for path in IMPORT.findall(response.text))
    on_disk = {p.name for p in STATIC.joinpath("js").iterdir() if p.name.endswith(".js")}
    assert seen == on_disk, "a module is never imported, or imported but missing"


async def test_the_stylesheet_and_icon_are_served(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/app.css")).headers["content-type"].startswith("text/css")
    assert (
        (await client.get("/static/icon.svg")).headers["content-type"].startswith("image/svg+xml")
    )


async def test_an_unknown_asset_is_a_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/js/nope.js")).status_code == 404


async def test_assets_cannot_be_read_from_outside_the_static_directory(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/static/%2e%2e/__init__.py")).status_code == 404
