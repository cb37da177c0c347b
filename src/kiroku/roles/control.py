"""The command channel from an HTTP process to the projector process beside it.

When the projections run in a process of their own, the operations page's
actions (replay, rebuild, retry, skip) must act on the runners that run, not
on an idle copy in the HTTP process. The projector listens on a Unix socket in
a private directory named after the read-store directory (like the commit
notes); the HTTP process sends one JSON request per line and reads one answer.
Replays and rebuilds start there as background tasks, so an answer is quick;
their progress comes back with ``projections``. An error crosses as its class
name and message and is raised again as the nearest class ``kiroku.errors``
knows, so the HTTP layer answers exactly as it would in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from kiroku import JSON, ProjectionHost
from kiroku import errors as kiroku_errors
from kiroku.apps.chat.ops import Operations
from kiroku.errors import KirokuError, ProjectionError

__all__ = ["ControlClient", "ControlServer", "ProjectorUnavailableError", "RemoteOperations"]

log = logging.getLogger("kiroku.roles")
_LIMIT = 1 << 24  # bytes of one line: a status of many projections fits


class ProjectorUnavailableError(ProjectionError):
    """The projector process does not answer (starting, restarting, or stopped)."""

    def __init__(self, why: str) -> None:
        super().__init__("*", None, why)
        # said as a sentence of its own: it is about the process, not one projection
        Exception.__init__(self, f"The projector process is not available: {why}")


class _Request(msgspec.Struct):
    op: str
    args: dict[str, Any] = {}  # JSON values (msgspec does not take the recursive alias)


class _Answer(msgspec.Struct):
    result: Any = None
    error: list[str] | None = None  # the error's class names, most specific first
    detail: str = ""


def control_path(read_dir: Path) -> Path:
    key = hashlib.sha256(str(read_dir.resolve()).encode()).hexdigest()[:20]
    directory = Path(tempfile.gettempdir()) / f"kiroku-control-{key}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory / "projector.sock"


async def _call(ops: Operations, request: _Request) -> JSON:
    a = request.args
    match request.op:
        case "projections":
            return await ops.projections()
        case "unready":
            return dict(await ops.unready())
        case "replay":
            return await ops.replay(str(a["name"]), _int(a["first"]))
        case "rebuild":
            return await ops.rebuild(str(a["name"]))
        case "retry":
            await ops.retry(str(a["name"]), _int(a["ident"]))
        case "skip":
            await ops.skip(str(a["name"]), _int(a["ident"]), str(a["reason"]), str(a["by"]))
        case "ping":
            return "pong"
        case _:
            raise kiroku_errors.InputError(f"Unknown operation {request.op!r}")
    return None


def _int(value: JSON) -> int:
    if not isinstance(value, int):
        raise kiroku_errors.InputError(f"Expected an integer, got {value!r}")
    return value


class ControlServer:
    """The projector's side: answers requests with its own ``Operations``."""

    def __init__(self, server: asyncio.AbstractServer, path: Path) -> None:
        self._server, self.path = server, path

    @classmethod
    async def open(cls, read_dir: Path, ops: Operations) -> ControlServer:
        path = control_path(read_dir)
        path.unlink(missing_ok=True)  # left by a process that died: we own the directory now

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
                while line := await reader.readline():
                    writer.write(msgspec.json.encode(await _answer(ops, line)) + b"\n")
                    await writer.drain()
            writer.close()

        server = await asyncio.start_unix_server(serve, path=str(path), limit=_LIMIT)
        return cls(server, path)

    async def close(self) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self.path.unlink(missing_ok=True)


async def _answer(ops: Operations, line: bytes) -> _Answer:
    try:
        request = msgspec.json.decode(line, type=_Request)
        return _Answer(result=await _call(ops, request))
    except KirokuError as e:
        names = [c.__name__ for c in type(e).__mro__ if issubclass(c, KirokuError)]
        return _Answer(error=names, detail=str(e))
    except (msgspec.DecodeError, KeyError) as e:
        return _Answer(error=["InputError"], detail=f"Malformed operation: {e}")
    except Exception as e:  # a bug: said, and logged here where the traceback is
        log.exception("operation failed")
        return _Answer(error=["KirokuError"], detail=f"{type(e).__name__}: {e}")


def _raised(names: list[str], detail: str) -> KirokuError:
    """The error again, as the most specific class of ``kiroku.errors`` in its MRO
    (an app's own subclass arrives as the kiroku class it derives from)."""
    for name in names:
        cls = getattr(kiroku_errors, name, None)
        if isinstance(cls, type) and issubclass(cls, KirokuError):
            error = cls.__new__(cls)
            Exception.__init__(error, detail)  # its own __init__ wants fields we do not carry
            return error
    return KirokuError(detail)


_LOOKS = frozenset({"projections", "unready", "ping"})
"""Operations that only look: a projector that does not answer them soon is said to be
away (``/readyz`` and the operations page must not hang on a stopped process)."""


class ControlClient:
    """The HTTP process's side: one connection per call (operations are rare)."""

    def __init__(self, read_dir: Path, timeout: float = 30.0, look_timeout: float = 5.0) -> None:
        self.path = control_path(read_dir)
        self.timeout = timeout
        self.look_timeout = look_timeout

    async def call(self, op: str, **args: JSON) -> JSON:
        limit = self.look_timeout if op in _LOOKS else self.timeout
        try:
            async with asyncio.timeout(limit):
                reader, writer = await asyncio.open_unix_connection(str(self.path), limit=_LIMIT)
                try:
                    writer.write(msgspec.json.encode(_Request(op, dict(args))) + b"\n")
                    line = await reader.readline()
                finally:
                    writer.close()
        except TimeoutError as e:
            raise ProjectorUnavailableError(f"no answer within {limit:g} s") from e
        except OSError as e:
            raise ProjectorUnavailableError(f"it does not listen ({e})") from e
        if not line:
            raise ProjectorUnavailableError("it closed the connection")
        answer = msgspec.json.decode(line, type=_Answer)
        if answer.error is not None:
            raise _raised(answer.error, answer.detail)
        result: JSON = answer.result
        return result


class RemoteOperations:
    """``Operations`` carried to the projector process (``host`` is this process's
    copy of the read side, kept for what only it knows)."""

    def __init__(self, client: ControlClient, host: ProjectionHost) -> None:
        self.client = client
        self.host = host

    async def projections(self) -> list[JSON]:
        found = await self.client.call("projections")
        return found if isinstance(found, list) else []

    async def replay(self, name: str, first: int) -> JSON:
        return await self.client.call("replay", name=name, first=first)

    async def rebuild(self, name: str) -> JSON:
        return await self.client.call("rebuild", name=name)

    async def retry(self, name: str, ident: int) -> None:
        await self.client.call("retry", name=name, ident=ident)

    async def skip(self, name: str, ident: int, reason: str, by: str) -> None:
        await self.client.call("skip", name=name, ident=ident, reason=reason, by=by)

    async def unready(self) -> dict[str, str]:
        """The projector's answer: it runs the runners and opens the same files."""
        try:
            remote = await self.client.call("unready")
        except ProjectorUnavailableError as e:
            return {"projector": str(e)}
        return {k: str(v) for k, v in remote.items()} if isinstance(remote, dict) else {}
