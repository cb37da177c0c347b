"""Writes made in one step of the event loop leave in one ``write`` of the real
transport, in order, and closing sends what is held before the connection closes."""

from __future__ import annotations

import asyncio
import socket

from kiroku.api.server import HOLD_AT_MOST, CoalescingTransport


class _Silent(asyncio.Protocol):
    pass


async def _pair() -> tuple[asyncio.Transport, socket.socket]:
    ours, theirs = socket.socketpair()
    transport, _ = await asyncio.get_running_loop().create_connection(_Silent, sock=ours)
    theirs.setblocking(False)
    return transport, theirs


async def _read_all(peer: socket.socket) -> bytes:
    loop, got = asyncio.get_running_loop(), b""
    while chunk := await loop.sock_recv(peer, 65536):
        got += chunk
    return got


async def test_writes_in_one_step_go_out_in_one_call_in_order() -> None:
    transport, peer = await _pair()
    calls: list[bytes] = []
    real_write = transport.write

    def counting(data: bytes | bytearray | memoryview) -> None:
        calls.append(bytes(data))
        real_write(data)

    transport.write = counting  # type: ignore[method-assign]
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
    coalescing.write(b"HTTP/1.1 200 OK\r\n\r\n")
    coalescing.write(b"body")
    assert calls == []  # held until the step ends
    await asyncio.sleep(0)
    assert calls == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    coalescing.write(b"next")
    await asyncio.sleep(0)
    assert calls[1:] == [b"next"]
    coalescing.close()
    assert await _read_all(peer) == b"HTTP/1.1 200 OK\r\n\r\nbodynext"
    peer.close()


async def test_closing_sends_what_is_held_first() -> None:
    transport, peer = await _pair()
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
    coalescing.write(b"HTTP/1.1 408 Request Timeout\r\n\r\n")
    coalescing.close()
    assert coalescing.is_closing()  # the rest is the real transport's
    await asyncio.sleep(0)  # the scheduled flush finds nothing left and writes nothing
    assert await _read_all(peer) == b"HTTP/1.1 408 Request Timeout\r\n\r\n"
    peer.close()


async def test_a_large_write_is_not_held() -> None:
    transport, peer = await _pair()
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
    coalescing.write(b"head")
    coalescing.write(b"x" * HOLD_AT_MOST)
    assert coalescing.held == []  # gone to the transport, whose flow control now sees it
    coalescing.close()
    assert await _read_all(peer) == b"head" + b"x" * HOLD_AT_MOST
    peer.close()
