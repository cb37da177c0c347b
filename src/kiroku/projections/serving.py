"""Which runner serves each projection, and reading and waiting across rebuild swaps.

A rebuild replaces a projection's runner (and store file) while readers and
read-your-writes waiters are using the old one. ``Serving`` is the one place
that changes: ``reader`` follows the serving generation, keeping views of replaced
generations open until close for readers still holding them, and ``wait_for``
moves on to the successor when the runner it waited on is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

from kiroku.projections.readstore import ReadView
from kiroku.projections.runner import ProjectionRunner

__all__ = ["Serving"]


class Serving:
    def __init__(self, runner: Callable[[str], ProjectionRunner]) -> None:
        self._runner = runner
        self.runners: dict[str, ProjectionRunner] = {}
        self._views: dict[str, tuple[str, ReadView]] = {}
        self._retired: list[ReadView] = []
        self._replaced = asyncio.Event()  # set (and renewed) when a rebuild swaps a runner

    def install(self, name: str, runner: ProjectionRunner) -> None:
        self.runners[name] = runner
        self._replaced.set()
        self._replaced = asyncio.Event()

    def reader(self, name: str) -> ReadView:
        store = self._runner(name).store
        cached = self._views.get(name)
        if cached is not None and cached[0] == store.location:
            return cached[1]
        if cached is not None:
            self._retired.append(cached[1])  # a reader may still hold it: closed with the host
        view = store.reader()
        self._views[name] = (store.location, view)
        return view

    async def wait_for(self, names: Sequence[str], position: int, timeout: float) -> None:  # noqa: ASYNC109 - read-your-writes is specified with a timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        for name in names:
            while not await self._wait_on_current(name, position, deadline - loop.time()):
                pass

    async def _wait_on_current(self, name: str, position: int, remaining: float) -> bool:
        """Wait on ``name``'s current runner; False if a runner was replaced
        meanwhile (the caller then waits again on whichever runner is current)."""
        runner, replaced = self._runner(name), self._replaced
        waiting = asyncio.ensure_future(runner.wait_for(position, max(remaining, 0.0)))
        swap = asyncio.ensure_future(replaced.wait())
        try:
            await asyncio.wait([waiting, swap], return_when=asyncio.FIRST_COMPLETED)
        finally:
            swap.cancel()
        if waiting.done():
            waiting.result()  # reached, or the runner's own error (timeout, failure)
            return True
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        return False

    def close(self) -> None:
        for runner in self.runners.values():
            runner.store.close()
        for view in [v for _, v in self._views.values()] + self._retired:
            view.close()  # views of replaced generations stay open until here, for late readers
        self._views.clear()
        self._retired.clear()
