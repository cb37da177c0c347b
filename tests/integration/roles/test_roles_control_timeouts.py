"""A projector process that does not answer (stopped, or hung) is said to be away:
soon for the operations that only look (status, readiness, ping), so ``/readyz``
and the operations page do not hang on it; later for those that act."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kiroku.roles.control import ControlClient, ProjectorUnavailableError, control_path


@contextlib.asynccontextmanager
async def silent_projector(read_dir: Path) -> AsyncIterator[None]:
    """A control socket that takes connections and requests and never answers."""

    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # never answered; closed when the test is done with it

    path = control_path(read_dir)
    path.unlink(missing_ok=True)
    server = await asyncio.start_unix_server(hold, path=str(path))
    try:
        yield
    finally:
        server.close()
        for writer in held:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("op", ["projections", "unready", "ping"])
async def test_a_look_gives_up_after_the_look_timeout(tmp_path: Path, op: str) -> None:
    client = ControlClient(tmp_path, timeout=30.0, look_timeout=0.2)
    async with silent_projector(tmp_path):
        with pytest.raises(ProjectorUnavailableError, match=r"no answer within 0\.2 s"):
            await client.call(op)


async def test_an_action_waits_for_the_action_timeout(tmp_path: Path) -> None:
    client = ControlClient(tmp_path, timeout=0.3, look_timeout=30.0)
    async with silent_projector(tmp_path):
        with pytest.raises(ProjectorUnavailableError, match=r"no answer within 0\.3 s"):
            await client.call("rebuild", name="chat.rooms")


async def test_no_projector_listening_is_said_at_once(tmp_path: Path) -> None:
    control_path(tmp_path).unlink(missing_ok=True)
    with pytest.raises(ProjectorUnavailableError, match="it does not listen"):
        await ControlClient(tmp_path).call("projections")
