"""The HTTP server's options, and the guards uvicorn lacks.

kiroku serves through uvicorn on uvloop with the httptools parser (the fastest
configuration measured on a small machine, see ``benchmarks.http_load``), and
adds, in a subclass of uvicorn's httptools protocol rather than a server of its
own, what a server facing hostile clients needs and uvicorn does not do:

* a **header-read timeout**: a connection has ``header_timeout`` seconds, from
  when it opens or from the first byte of each request, to finish sending the
  request's headers (uvicorn only times out idle keep-alive connections, so
  half-sent requests held descriptors forever); it is answered 408 and closed;
* a **connection cap**: past ``max_connections`` open connections a new one is
  answered 503 with ``Retry-After`` and closed at once, before reading anything;
* **descriptors**: the cap is lowered to what the process's descriptor limit
  leaves after a reserve for the journal, the read stores and the listening
  sockets, so a flood of connections meets the cap, not ``EMFILE``.

The keep-alive idle timeout is uvicorn's own (``timeout_keep_alive``). The
header timer is armed only when a read ends with a request's headers still
incomplete (and from the connection's opening): a request that arrives whole,
the usual case, costs no timer.

The protocol also tells the application, per request, whether the request's
whole body has arrived already (:data:`kiroku.api.limits.BODY_IN`), so the
body timeout arms no timer for a body that is there.

uvicorn writes a response's head and its body with two ``transport.write``
calls, and on uvloop each is a ``send`` system call of its own: the largest
single cost of a small response in a profile of the posting load. Writes made
in one step of the event loop are therefore joined and sent in one call at the
end of the step (:class:`CoalescingTransport`); closing sends what is held first.
"""

from __future__ import annotations

import asyncio
import resource
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from kiroku.api.limits import BODY_IN
from kiroku.api.sse import WRITE_BODY

__all__ = ["BodyWriter", "CoalescingTransport", "ServerOptions", "guarded_protocol", "run"]

T = TypeVar("T")

DESCRIPTOR_RESERVE = 64
"""Descriptors kept for everything but client connections: SQLite files, sockets, logs."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What ``kiroku serve`` takes as flags; the defaults are the documented ones."""

    header_timeout: float = 10.0
    keep_alive_timeout: float = 5.0
    max_connections: int = 2000
    max_streams: int = 1000
    max_streams_per_user: int = 20
    max_requests_per_user: int = 64
    body_timeout: float = 30.0
    retry_after: int = 5

    def connection_cap(self) -> int:
        """``max_connections``, or less if the descriptor limit would run out first."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(1, min(self.max_connections, soft - DESCRIPTOR_RESERVE))


def _refusal(status: bytes, retry_after: int | None) -> bytes:
    retry = f"Retry-After: {retry_after}\r\n".encode() if retry_after is not None else b""
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: 0\r\nConnection: close\r\n" + retry + b"\r\n"
    )


HOLD_AT_MOST = 64 * 1024
"""Bytes held for one step at most; past it they are written at once, so the real
transport's buffer and its flow control see them."""


class CoalescingTransport:
    """A transport whose writes within one loop step go out as one ``write``."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.loop = loop
        self.held: list[bytes] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if not self.held:
            self.loop.call_soon(self.flush)
        self.held.append(data)
        self.size += len(data)
        if self.size >= HOLD_AT_MOST:  # a response streaming without pause: let it go now
            self.flush()

    def flush(self) -> None:
        if not self.held:
            return
        data = self.held[0] if len(self.held) == 1 else b"".join(self.held)
        self.held, self.size = [], 0
        if not self.transport.is_closing():
            self.transport.write(data)

    def write_now(self, data: bytes) -> None:
        """``data`` after what is held, in one write now (no callback for the end of the step)."""
        self.held.append(data)
        self.flush()

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:  # asked on every send: not through __getattr__
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self.transport, name)


class BodyWriter:
    """A streaming response's body bytes written at once, as uvicorn's ``send`` would frame
    them, from outside the response's task (see ``kiroku.api.fanout``: the publisher writes
    to idle live streams itself). Declines, returning False, whenever ``send`` would have
    to wait or would refuse: not started or complete, client gone, writing paused."""

    __slots__ = ("cycle", "transport")

    def __init__(self, cycle: RequestResponseCycle, transport: CoalescingTransport) -> None:
        self.cycle, self.transport = cycle, transport

    def __call__(self, data: bytes) -> bool:
        cycle = self.cycle
        if (
            not cycle.response_started or cycle.response_complete or cycle.disconnected
            or cycle.flow.write_paused or not cycle.chunked_encoding
            or self.transport.is_closing()
        ):  # fmt: skip
            return False
        self.transport.write_now(b"%x\r\n%b\r\n" % (len(data), data))
        return True

    def body_in(self) -> bool:
        """Whether the request's whole body is buffered (its next ``receive`` returns it
        at once): uvicorn clears ``more_body`` when the parser completes the message."""
        return not self.cycle.more_body


def guarded_protocol(options: ServerOptions) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with the header timeout and the connection cap."""
    cap = options.connection_cap()
    full = _refusal(b"503 Service Unavailable", options.retry_after)
    slow = _refusal(b"408 Request Timeout", None)

    class GuardedProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _in_headers = False  # a request has begun and its headers are not complete

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            coalescing = CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]
            super().connection_made(coalescing)  # type: ignore[arg-type]  # duck-typed transport
            if len(self.connections) > cap:
                self.transport.write(full)
                self.transport.close()
                return
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._in_headers and self._header_timer is None:
                self._arm()  # the headers are still coming: from now, they have a deadline

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_headers = True

        def on_headers_complete(self) -> None:
            self._in_headers = False
            self._disarm()
            super().on_headers_complete()
            transport = self.transport
            if self.cycle is not None and isinstance(transport, CoalescingTransport):
                writer = BodyWriter(self.cycle, transport)
                extensions: dict[str, Any] = self.scope.setdefault("extensions", {})
                extensions[WRITE_BODY] = writer
                extensions[BODY_IN] = writer.body_in

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._header_timer = self.loop.call_later(options.header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.write(slow)
                self.transport.close()

    return GuardedProtocol


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed, else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on POSIX
        return asyncio.run(main)
    return uvloop.run(main)
