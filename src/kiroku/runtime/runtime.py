"""The runtime: routes each command to the one live actor of its stream.

Actors are created on first use and passivated when idle (a timeout) or when
too many are live (least recently used first, only ones with nothing to do).
Different streams' actors run concurrently, so their appends arrive at the
journal together and a group-committing journal writes them in one transaction.
Within one stream, commands that queue up behind each other are decided in
order and appended together (``max_batch``), so one busy aggregate is not held
to one durable commit per command.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar, cast

from kiroku.domain.closing import ClosesOnExit
from kiroku.domain.decider import Decider
from kiroku.domain.envelope import Metadata
from kiroku.domain.streams import stream_name, validate_stream
from kiroku.errors import ConfigError, InputError, RuntimeClosedError
from kiroku.journal.protocol import Journal
from kiroku.runtime.actor import QUERY, Actor
from kiroku.runtime.receipts import stamp
from kiroku.runtime.recovery import Rehydrator
from kiroku.runtime.result import CommandResult
from kiroku.runtime.settings import CommandOptions, Retention, Settings
from kiroku.schema.codec import Codec

if TYPE_CHECKING:
    from kiroku.corrections.service import RetractionReport

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

S = TypeVar("S")
C = TypeVar("C")
E = TypeVar("E")

# The runtime holds deciders of many unrelated types side by side; each call
# (execute, state) is typed by the decider class it names, so the mixed
# collection itself can only be typed loosely.
AnyDecider = Decider[Any, Any, Any]
_AnyActor = Actor[Any, Any, Any]
_NO_OPTIONS = CommandOptions()


class Runtime(ClosesOnExit):
    """Aggregate actors over a journal. Use ``async with Runtime(...)`` or call ``close``."""

    def __init__(
        self,
        journal: Journal,
        deciders: Iterable[AnyDecider | type[AnyDecider]],
        *,
        codec: Codec | None = None,
        snapshot_every: int | None = 100,
        retention: Retention | None = None,
        max_live: int = 10_000,
        idle_timeout: float | None = 300.0,
        mailbox_size: int = 1000,
        max_retries: int = 5,
        idempotency_window: int = 1000,
        max_batch: int = 64,
    ) -> None:
        self.journal = journal
        self.codec = codec if codec is not None else Codec()
        self.settings = Settings(
            snapshot_every=snapshot_every,
            retention=retention,
            max_live=max_live,
            idle_timeout=idle_timeout,
            mailbox_size=mailbox_size,
            max_retries=max_retries,
            idempotency_window=idempotency_window,
            max_batch=max_batch,
        )
        self._deciders = _index(deciders)
        self._actors: OrderedDict[str, _AnyActor] = OrderedDict()  # by stream, LRU first
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def live(self) -> int:
        """How many actors are live (holding their state in memory) right now."""
        return len(self._actors)

    def is_live(self, decider: type[AnyDecider], aggregate_id: str) -> bool:
        return self._stream(decider, aggregate_id) in self._actors

    async def execute(
        self,
        decider: type[Decider[S, C, E]],
        aggregate_id: str,
        command: C,
        *,
        idempotency_key: str | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        metadata: Metadata | None = None,
    ) -> CommandResult[S, E]:
        """Run ``command`` on the aggregate; its result once the events are durable.

        Raises the decider's DomainError on rejection (nothing appended),
        OverloadedError when the stream's mailbox is full (retry later),
        AggregateCrashedError on a bug in decide/evolve, RetriesExhaustedError
        when concurrent writers kept winning, RuntimeClosedError after close.
        """
        if idempotency_key:
            idempotency_key = stamp(idempotency_key, command)  # another command: refused
        if idempotency_key or correlation_id or causation_id or metadata:
            options = CommandOptions(idempotency_key, correlation_id, causation_id, metadata)
        else:
            options = _NO_OPTIONS
        # _ask inlined: one coroutine fewer per command
        outcome = await self._actor(decider, aggregate_id).call(command, options)
        return cast("CommandResult[S, E]", outcome)  # a string: subscripting costs ~1 us a call

    async def state(self, decider: type[Decider[S, C, E]], aggregate_id: str) -> S:
        """The aggregate's current state, after every command queued before this call."""
        outcome = await self._ask(decider, aggregate_id, QUERY, _NO_OPTIONS)
        return cast(S, outcome)

    async def state_at(
        self,
        decider: type[Decider[S, C, E]],
        aggregate_id: str,
        *,
        version: int | None = None,
        at: datetime | None = None,
    ) -> S:
        """The state as of stream ``version`` and/or time ``at``, folded from the journal.

        Independent of the live actor; snapshots later than the point asked for are ignored.
        """
        if at is not None and at.tzinfo is None:
            raise InputError(f"state_at needs a timezone-aware time, got {at!r}")
        instance = cast(Decider[S, C, E], self._decider(decider))
        stream = self._stream(decider, aggregate_id)
        rehydrator = Rehydrator(self.journal, self.codec, instance, stream)
        return await rehydrator.state_at(version, at)

    def refresh(self, stream: str) -> bool:
        """Make ``stream``'s live actor recover from the journal before its next command.

        For changes the actor did not make and would otherwise meet only on its
        next conflicting append, such as a retraction (whose voided event its
        state may contain). False when no actor of ``stream`` is live: the next
        one recovers from the journal anyway.
        """
        actor = self._actors.get(stream)
        if actor is None:
            return False
        actor.refresh()
        return True

    async def on_retraction(self, report: RetractionReport) -> None:
        """A ``RetractionService`` listener: refresh the retracted event's stream."""
        if self.refresh(report.original.stream):
            log.info("stream %s: refreshed after a retraction", report.original.stream)

    async def close(self) -> None:
        """Refuse new commands, let every actor finish its mailbox, then return."""
        if self._closed:
            return
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        actors = list(self._actors.values())
        self._actors.clear()
        for actor in actors:
            actor.stop()
        await asyncio.gather(*(a.task for a in actors), return_exceptions=True)
        log.debug("runtime closed; %d actors drained", len(actors))

    # -- routing ---------------------------------------------------------------

    async def _ask(
        self,
        decider: type[AnyDecider],
        aggregate_id: str,
        command: object,
        options: CommandOptions,
    ) -> object:
        return await self._actor(decider, aggregate_id).call(command, options)

    def _actor(self, decider: type[AnyDecider], aggregate_id: str) -> _AnyActor:
        """The live actor of the aggregate, spawned if it has none (the most recent)."""
        instance = self._decider(decider)
        stream = f"{instance.category}-{aggregate_id}"
        actor = self._actors.get(stream)
        if actor is None:
            return self._spawn(instance, validate_stream(stream))
        self._actors.move_to_end(stream)
        return actor

    def _stream(self, decider: type[AnyDecider], aggregate_id: str) -> str:
        return stream_name(self._decider(decider).category, aggregate_id)

    def _decider(self, decider: type[AnyDecider]) -> AnyDecider:
        found = self._deciders.get(decider)
        if found is None:
            known = ", ".join(sorted(d.__qualname__ for d in self._deciders)) or "none"
            raise ConfigError(
                f"{getattr(decider, '__qualname__', decider)!r} is not a decider of this "
                f"runtime (known: {known})"
            )
        return found

    def _spawn(self, decider: AnyDecider, stream: str) -> _AnyActor:
        if self._closed:
            raise RuntimeClosedError(stream)
        actor = Actor(self.journal, self.codec, decider, stream, self.settings, self._exited)
        self._actors[stream] = actor
        if len(self._actors) > self.settings.max_live:
            self._passivate_lru()
        if self._sweeper is None and self.settings.idle_timeout is not None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(self.settings.idle_timeout), name="kiroku runtime: idle actors"
            )
        return actor

    async def _sweep(self, idle_for: float) -> None:
        """Passivate actors idle for ``idle_for`` s; one timer for all, not one per command."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(idle_for / 2)
            cutoff = loop.time() - idle_for
            stale = [s for s, a in self._actors.items() if a.idle and a.idle_since <= cutoff]
            for stream in stale:
                self._actors.pop(stream).stop()
            if stale:
                log.debug("passivated %d actors idle for %ss", len(stale), idle_for)

    def _passivate_lru(self) -> None:
        """Stop the least recently used actor that has nothing to do, if there is one."""
        for stream, actor in self._actors.items():
            if actor.idle:
                del self._actors[stream]
                actor.stop()
                log.debug(
                    "stream %s: passivated (over max_live=%d)", stream, self.settings.max_live
                )
                return

    def _exited(self, actor: _AnyActor) -> None:
        if self._actors.get(actor.stream) is actor:
            del self._actors[actor.stream]


def _index(deciders: Iterable[AnyDecider | type[AnyDecider]]) -> dict[type, AnyDecider]:
    index: dict[type, AnyDecider] = {}
    categories: dict[str, type] = {}
    for d in deciders:
        instance = d() if isinstance(d, type) else d
        if not isinstance(instance, Decider):
            raise ConfigError(f"{instance!r} is not a Decider")
        cls = type(instance)
        category = getattr(cls, "category", None)
        if not isinstance(category, str):
            raise ConfigError(f"{cls.__qualname__} has no category")
        if category in categories and categories[category] is not cls:
            raise ConfigError(
                f"Deciders {categories[category].__qualname__} and {cls.__qualname__} "
                f"share the category {category!r}"
            )
        stream_name(category, "x")  # a category no stream name can use fails here, not later
        categories[category] = cls
        index[cls] = instance
    return index
