"""The application bundle: everything one deployment runs, under one name.

An ``App`` gathers the event registry, the deciders (write side), the
projections (read side) and the other consumers — hold-back consumers and
process managers — so that ``kiroku serve``, the operator commands and the
tests all load the same set with one reference, ``package.module:attr``.

A host runs the consumers with one call, beside its runtime and projections::

    async with app.run_consumers(journal, runtime, data_dir):
        ...  # serve until shut down

Each consumer gets a ``HoldBackRunner`` over one durable store,
``DATA/holds.db`` (the file ``kiroku retract`` reads the blast radius from). A
process manager runs as a hold-back consumer with no hold: the same runner
gives it push delivery, a durable checkpoint and the retraction check, and its
commands carry idempotency keys, so a redelivery after a crash sends nothing
twice.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from kiroku.catalog.pinball import PinballGuard
from kiroku.catalog.process import ProcessManager
from kiroku.catalog.runner import CommandSender, ProcessManagerRunner
from kiroku.corrections.clock import Clock
from kiroku.corrections.events import EventRetracted
from kiroku.corrections.holdback import HoldBackConsumer, HoldBackRunner
from kiroku.corrections.store import SQLiteHoldStore
from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Recorded
from kiroku.errors import ConfigError, ProjectionNotFoundError
from kiroku.journal.protocol import Journal
from kiroku.projections.model import FailurePolicy
from kiroku.projections.projection import Projection
from kiroku.schema.codec import Codec
from kiroku.schema.registry import DEFAULT_REGISTRY, Registry

__all__ = ["DEFAULT_APP", "HOLDS_FILE", "App", "ConsumerGroup", "load_app"]

log = logging.getLogger("kiroku.consumers")

HOLDS_FILE = "holds.db"
"""The hold store's file in the data directory, shared by every consumer of the app."""

DEFAULT_APP = "kiroku.apps.chat:app"
"""What ``--app`` / ``KIROKU_APP`` default to: the reference chat system."""


@dataclass(frozen=True, slots=True)
class App:
    """``App("chat", registry, deciders=[Room()], projections=[Timeline()])``.

    ``policies`` sets a failure policy per projection name (default: stop).
    ``consumers`` are hold-back consumers (``HoldBackConsumer``) and process
    managers (``ProcessManager``); ``run_consumers`` runs them.
    Deciders are generic in their state, command and event types, which are
    invariant, so the bundle can only hold them as ``Decider[Any, Any, Any]``.
    """

    name: str
    registry: Registry = DEFAULT_REGISTRY
    deciders: Sequence[Decider[Any, Any, Any]] = ()
    projections: Sequence[Projection] = ()
    policies: Mapping[str, FailurePolicy] = field(default_factory=dict)
    consumers: Sequence[object] = ()

    def __post_init__(self) -> None:
        self._check_projections()
        names: list[str] = []
        for consumer in self.consumers:
            if not isinstance(consumer, ProcessManager | HoldBackConsumer):
                raise ConfigError(
                    f"App {self.name!r}: consumer {consumer!r} is neither a ProcessManager "
                    "nor a hold-back consumer (name, hold, handles, act, compensate)"
                )
            names.append(consumer.name)
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigError(f"App {self.name!r}: consumer names used twice: {doubled}")

    def _check_projections(self) -> None:
        names = [p.name for p in self.projections]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ConfigError(f"App {self.name!r}: projection names used twice: {doubled}")
        unknown = sorted(set(self.policies) - set(names))
        if unknown:
            raise ConfigError(f"App {self.name!r}: policies for unknown projections {unknown}")

    def projection(self, name: str) -> Projection:
        for p in self.projections:
            if p.name == name:
                return p
        raise ProjectionNotFoundError(name, [p.name for p in self.projections])

    def run_consumers(
        self,
        journal: Journal,
        sender: CommandSender,
        data_dir: Path | str,
        *,
        codec: Codec | None = None,
        clock: Clock | None = None,
        guard: PinballGuard | None = None,
    ) -> ConsumerGroup:
        """The app's consumers, ready to ``start`` (or ``async with``): one
        ``HoldBackRunner`` each over ``data_dir/holds.db``; process managers send
        their commands through ``sender`` (the runtime)."""
        codec = codec if codec is not None else Codec(self.registry)
        store = SQLiteHoldStore(Path(data_dir) / HOLDS_FILE) if self.consumers else None
        runners: list[HoldBackRunner] = []
        for consumer in self.consumers:
            if isinstance(consumer, ProcessManager):
                consumer = _Reactions(ProcessManagerRunner(consumer, sender, guard))
            assert isinstance(consumer, HoldBackConsumer)
            assert store is not None
            runners.append(HoldBackRunner(consumer, journal, codec, store, clock=clock))
        return ConsumerGroup(runners, store)


class ConsumerGroup:
    """Runs each consumer's ``HoldBackRunner`` in its own task.

    A runner whose effect fails stops with that error (the event stays held and
    is retried on the next start); the group logs it loudly and the other
    consumers go on: a bulkhead, not a crash of the whole host.
    """

    def __init__(self, runners: Sequence[HoldBackRunner], store: SQLiteHoldStore | None) -> None:
        self.runners = list(runners)
        self.store = store
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        for runner in self.runners:
            task = asyncio.create_task(runner.run(), name=f"consumer {runner.name}")
            task.add_done_callback(_report_stop)
            self.tasks.append(task)

    async def close(self) -> None:
        tasks, self.tasks = self.tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.store is not None:
            self.store.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _Reactions:
    """A process manager as a hold-back consumer with no hold."""

    hold = timedelta(0)

    def __init__(self, runner: ProcessManagerRunner) -> None:
        self.runner = runner
        self.name = runner.manager.name
        self.handles = tuple(runner.manager.handles)

    async def act(self, event: Recorded[object]) -> None:
        reaction = await self.runner.handle(event)
        if reaction.stopped:
            log.error("%s: position %d went past the causation depth", self.name, event.position)

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        """Commands already sent are facts of other aggregates: they are not undone
        here, and the retraction report names this consumer for an operator."""
        log.warning(
            "%s reacted to position %d, retracted at %d: its commands stand",
            self.name,
            original.position,
            retraction.position,
        )


def _report_stop(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped", task.get_name(), exc_info=task.exception())


def load_app(ref: str) -> App:
    """Import ``package.module:attr`` and return the App there; ConfigError says why not.

    The working directory is searched too (as ``python -m`` does), so ``--app
    bank:app`` finds ``./bank.py`` without ``PYTHONPATH=.``.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"An app reference looks like 'package.module:attr', got {ref!r}")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.append(here)  # after the installed packages: a local file never shadows them
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(
            f"Cannot import the app module {module_name!r} ({e}); "
            "pass --app package.module:attr or set KIROKU_APP"
        ) from e
    target = getattr(module, attr, None)
    if not isinstance(target, App):
        raise ConfigError(
            f"{ref!r} is {type(target).__qualname__ if target is not None else 'missing'}, "
            "not a kiroku.App"
        )
    return target
