"""Request bodies: size-limited, then decoded into a typed struct or rejected with 400."""

from __future__ import annotations

from typing import TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request

from kiroku.api.params import header, parse_int
from kiroku.errors import InputError, PayloadTooLargeError

__all__ = ["MAX_BODY_BYTES", "read_json"]

MAX_BODY_BYTES = 64 * 1024
T = TypeVar("T")


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = header(request.scope, b"content-length")
    if declared is not None:
        # the common case without the general parser's per-character scan: ASCII digits only
        short = declared.isascii() and declared.isdigit() and len(declared) < 19
        size = int(declared) if short else parse_int(declared, "Content-Length")
        if size > limit:
            raise PayloadTooLargeError(size, limit)
    chunks: list[bytes] = []
    size, more = 0, True
    while more:  # the ASGI messages themselves: Request.stream() adds an async generator
        message = await request.receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()  # as Request.stream() does
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(size, limit)
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def read_json(request: Request, into: type[T], *, limit: int = MAX_BODY_BYTES) -> T:
    """The body as ``into``. An empty body counts as ``{}``: all-optional bodies may be left out."""
    raw = await _read_limited(request, limit)
    try:
        return msgspec.json.decode(raw or b"{}", type=into)
    except msgspec.ValidationError as e:
        raise InputError(f"Invalid request body: {e}") from e
    except msgspec.DecodeError as e:
        raise InputError(f"Malformed JSON in the request body: {e}") from e
