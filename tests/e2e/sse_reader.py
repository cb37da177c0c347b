"""Read server-sent events off an open httpx stream, frame by frame, for the live tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Frame", "SseReader", "data_of"]


@dataclass(frozen=True)
class Frame:
    event: str
    id: str | None
    data: Any


class SseReader:
    """Frames in order; ``ended`` once the server closed the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines: AsyncIterator[str] = response.aiter_lines()
        self.ended = False

    async def next(self, within: float = 15.0) -> Frame | None:
        """The next frame (comments skipped), or None when the stream ended."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(within):
            async for line in self._lines:
                if line == "" and "data" in fields:
                    data = json.loads(fields["data"])
                    return Frame(fields.get("event", "message"), fields.get("id"), data)
                if line == "":
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    fields[name] = value
        self.ended = True
        return None

    async def until(self, event: str, within: float = 15.0) -> list[Frame]:
        """Every frame up to and including the first ``event`` one."""
        seen: list[Frame] = []
        while True:
            frame = await self.next(within)
            if frame is None:
                raise AssertionError(f"the stream ended before {event!r}: {seen}")
            seen.append(frame)
            if frame.event == event:
                return seen

    async def rest(self, within: float = 15.0) -> list[Frame]:
        """Every frame until the server ends the stream (fails if it does not)."""
        seen: list[Frame] = []
        while (frame := await self.next(within)) is not None:
            seen.append(frame)
        return seen


async def data_of(response: httpx.Response, count: int, within: float = 15.0) -> list[Any]:
    """The data of the first ``count`` frames (fewer if the server ends the stream)."""
    reader = SseReader(response)
    found: list[Any] = []
    while len(found) < count and (frame := await reader.next(within)) is not None:
        found.append(frame.data)
    return found
