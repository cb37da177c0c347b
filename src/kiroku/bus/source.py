"""A projection runner fed by the bus instead of the journal.

``BusSource`` is an ``EventSource``: the runner pulls batches from a durable
consumer (one per projection, or per projection and partition set) and, once a
batch is committed with the read model, the source acknowledges its deliveries
(``settled``). Until then nothing is acknowledged, so a projector killed
mid-batch gets the batch again, and the runner's per-stream version check turns
whatever it had already committed into recorded duplicates: exactly once in
effect. Reordered or missing events (a redelivery overtaking, a fenced relay's
late batch) are a gap for that check, which fills it from the journal.

When the runner stops (or reloads after another process wrote its store),
deliveries fetched but not committed are handed back at once (``nak``) rather
than left to time out. Rebuilds and replays never come here: they read the
journal (``CatchUpSource``).

A lane (one of several processes sharing a projection's partitions) also says
when it has nothing left to do: after an empty fetch, with nothing of its own
uncommitted and nothing pending on the bus, every event the relay had published
before that fetch (``watermark``, the relay's checkpoint, read before it) that
belongs to the lane has been applied, so ``on_idle`` moves the lane there.

Events the bus gave up on (``MaxDeliver`` reached: the projector kept dying
before its commit) are handed to ``on_dead_letter`` (the projector role parks
them in the projection's parked list, so they are never skipped unseen).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from kiroku.bus.cancel import recancel
from kiroku.bus.protocol import Bus, Consumer, DeadLetterHandler, Delivery
from kiroku.domain.envelope import StoredEvent

__all__ = ["BusSource"]

log = logging.getLogger("kiroku.bus")


class BusSource:
    def __init__(
        self,
        bus: Bus,
        consumer: str,
        *,
        partitions: Sequence[int] | None = None,
        batch_size: int = 500,
        fetch_timeout: float = 2.0,
        on_dead_letter: DeadLetterHandler | None = None,
        watermark: Callable[[], Awaitable[int]] | None = None,
        on_idle: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self.bus = bus
        self.consumer_name = consumer
        self.partitions = partitions
        self.batch_size = batch_size
        self.fetch_timeout = fetch_timeout
        self.on_dead_letter = on_dead_letter
        self.watermark = watermark
        self.on_idle = on_idle
        self.dead_letters = 0
        self.delivered = 0
        self.redelivered = 0
        self._open: list[tuple[Sequence[StoredEvent], list[Delivery]]] = []

    async def batches(self, after: int) -> AsyncIterator[Sequence[StoredEvent]]:
        """Batches as the consumer delivers them. ``after`` is not a filter: on a bus
        with partitions and redeliveries a lower position may still be new; the
        runner's per-stream versions decide."""
        consumer = await self.bus.consumer(self.consumer_name, self.partitions)
        try:
            fetches, mark = 0, None
            while True:
                deliveries = await consumer.fetch(self.batch_size, self.fetch_timeout)
                recancel()
                fetches += 1
                if self.on_dead_letter is not None and (not deliveries or fetches % 50 == 0):
                    self.dead_letters += await consumer.dead_letters(self.on_dead_letter)
                if not deliveries:
                    mark = await self._idle(consumer, mark)
                    continue
                mark = None
                self.delivered += len(deliveries)
                self.redelivered += sum(1 for d in deliveries if d.attempt > 1)
                events = [d.event for d in deliveries]
                self._open.append((events, deliveries))
                yield events
        finally:
            # bounded: a bus that is down must not hold up a runner's stop
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.fetch_timeout + 5):
                    await self._hand_back()
                    await consumer.close()

    async def _idle(self, consumer: Consumer, mark: int | None) -> int | None:
        """After an empty fetch: report ``mark`` (read before it) if nothing is in
        flight; return the watermark to report after the next empty one."""
        if self.watermark is None or self.on_idle is None:
            return None
        if mark is not None and not self._open and not await consumer.pending():
            await self.on_idle(mark)
        try:
            return await self.watermark()
        except Exception as e:  # the bus is away: no mark this time, the fetches say why
            log.debug("reading the relay's checkpoint failed: %s", e)
            return None

    async def settled(self, batch: Sequence[StoredEvent]) -> None:
        """The runner committed ``batch``: acknowledge its deliveries."""
        for i, (events, deliveries) in enumerate(self._open):
            if events is batch:
                del self._open[i]
                for delivery in deliveries:
                    await delivery.ack()
                recancel()  # the runner's stop, if an ack swallowed it: every ack is sent
                return

    async def _hand_back(self) -> None:
        opened, self._open = self._open, []
        for _, deliveries in opened:
            for delivery in deliveries:
                try:
                    await delivery.nak()
                except Exception as e:  # the connection may be gone: ack_wait redelivers
                    log.debug("nak of position %s failed: %s", delivery.event.position, e)
