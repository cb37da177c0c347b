"""Hold-back consumers: irreversible effects only after the compensation window.

A consumer with an irreversible side effect (charging a card) declares
``hold``: every event it handles is stored as *held* until ``occurred_at +
hold``; a retraction arriving before then drops it, so the handler never sees
it. At its release time the event's stream is checked once more for a
retraction (the authoritative answer, even if this consumer lags behind the
journal), then ``act`` runs and the event is marked released. A retraction of
an event already released queues exactly one ``compensate`` call.

A consumer with ``hold = timedelta(0)`` acts at once and relies on
``compensate`` alone: the same machinery serves both styles.

Nothing polls. Appends wake the feed through ``Journal.subscribe``; the
scheduler sleeps on the clock until the next release time or until a new batch
arrives. After ``act`` and before the release is recorded a crash makes ``act``
run again on restart, so an effect should carry ``event_id`` as its
idempotency key (the travel payment gateway does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol, runtime_checkable

from kiroku.corrections.clock import Clock, SystemClock
from kiroku.corrections.compensation import retraction_pair
from kiroku.corrections.events import EventRetracted, is_system_type, parse_retraction
from kiroku.corrections.exclusion import is_retracted
from kiroku.corrections.store import HoldStatus, SQLiteHoldStore
from kiroku.domain.envelope import Recorded, StoredEvent
from kiroku.errors import ConfigError
from kiroku.journal.protocol import Journal
from kiroku.schema.codec import Codec

__all__ = ["HoldBackConsumer", "HoldBackRunner"]


@runtime_checkable
class HoldBackConsumer(Protocol):
    """What a hold-back consumer declares. ``handles`` lists event classes (all
    non-system events when empty)."""

    @property
    def name(self) -> str: ...

    @property
    def hold(self) -> timedelta: ...

    @property
    def handles(self) -> tuple[type, ...]: ...

    async def act(self, event: Recorded[object]) -> None:
        """The irreversible effect; runs at most once per unretracted event (barring a crash)."""
        ...

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        """Undo ``act`` for ``original``; called once, only if ``act`` ran."""
        ...


class HoldBackRunner:
    """Feeds one hold-back consumer from the journal and releases what is due."""

    def __init__(
        self,
        consumer: HoldBackConsumer,
        journal: Journal,
        codec: Codec,
        store: SQLiteHoldStore,
        *,
        clock: Clock | None = None,
        batch_size: int = 500,
    ) -> None:
        if consumer.hold < timedelta(0):
            raise ConfigError(f"Consumer {consumer.name!r}: hold must not be negative")
        self.consumer = consumer
        self.journal = journal
        self.codec = codec
        self.store = store
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.batch_size = batch_size
        self._types = frozenset(codec.registry.for_class(c).name for c in consumer.handles)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # feeding and releasing never interleave

    @property
    def name(self) -> str:
        return self.consumer.name

    def _accepts(self, stored: StoredEvent) -> bool:
        if is_system_type(stored.type):
            return False
        return not self._types or stored.type in self._types

    async def feed(self, batch: Sequence[StoredEvent]) -> None:
        """Record one batch (held events, retractions, checkpoint) in one transaction."""
        if not batch:
            return
        hold = self.consumer.hold
        held = [(e, e.occurred_at + hold) for e in batch if self._accepts(e)]
        retractions = [
            (r.retracted_position, e.position)
            for e in batch
            if (r := parse_retraction(e)) is not None
        ]
        async with self._lock:
            await self.store.record_batch(self.name, held, retractions, batch[-1].position)
        self._wake.set()

    async def catch_up(self) -> int:
        """Feed everything after the checkpoint; return how many events were read."""
        after = await self.store.checkpoint(self.name)
        seen = 0
        while batch := await self.journal.read_all(after, self.batch_size):
            await self.feed(batch)
            after = batch[-1].position
            seen += len(batch)
        return seen

    async def release_due(self) -> list[int]:
        """Act on every held event whose time has come; return their positions."""
        released: list[int] = []
        async with self._lock:
            for stored in await self.store.due(self.name, self.clock.now()):
                if await is_retracted(self.journal, stored):
                    await self.store.settle(
                        self.name, stored.position, "retracted", self.clock.now()
                    )
                    continue
                await self.consumer.act(self.codec.decode(stored))
                await self.store.settle(self.name, stored.position, "released", self.clock.now())
                released.append(stored.position)
        return released

    async def compensate_pending(self) -> list[int]:
        """Run the queued compensations; return the retracted positions compensated."""
        done: list[int] = []
        async with self._lock:
            for retracted, retraction in await self.store.pending_compensations(self.name):
                # decoded without the app's registry, which need not know system events
                pair = await retraction_pair(
                    self.journal, self.codec, await self.journal.get_event(retraction)
                )
                await self.consumer.compensate(pair.retraction, pair.original)
                await self.store.compensated(self.name, retracted, self.clock.now())
                done.append(retracted)
        return done

    async def step(self) -> None:
        """One full round, for tests and one-shot tools: read, compensate, release."""
        await self.catch_up()
        await self.compensate_pending()
        await self.release_due()

    async def status(self) -> HoldStatus:
        return await self.store.status(self.name)

    async def run(self) -> None:
        """Follow the journal and release held events on time, until cancelled.

        If ``act`` or ``compensate`` raises, the run stops with that error: the
        event stays held (or the compensation pending) and is retried on the
        next start, so a failing effect is loud and never skipped.
        """
        await self.catch_up()
        feeder = asyncio.create_task(self._follow(), name=f"hold-feed:{self.name}")
        try:
            while True:
                self._wake.clear()
                await self.compensate_pending()
                await self.release_due()
                await self.clock.sleep_until(
                    await self.store.next_release_at(self.name), self._wake
                )
                if feeder.done():
                    feeder.result()  # surface a feed failure; a clean end stops us too
                    return
        finally:
            feeder.cancel()
            await asyncio.gather(feeder, return_exceptions=True)

    async def _follow(self) -> None:
        try:
            after = await self.store.checkpoint(self.name)
            async for batch in self.journal.subscribe(after, self.batch_size):
                await self.feed(batch)
        finally:
            self._wake.set()  # the scheduler notices the feed ended, cleanly or not
