"""A durable JetStream pull consumer, with a watchdog.

Pull subscriptions are known to stall after a server restart (the server
forgets the pending pull request; the client waits on it). A fetch that fails
for any reason but "no messages", or a run of empty fetches while the server
says messages are pending, makes the consumer drop its subscription and bind a
new one (re-creating the stream and the durable consumer if the server lost
them).

Fetches ask for no idle heartbeats: nats-py re-sends a pull request with the
*remaining* time as its expiry when the first one came back empty (a status
reply of an earlier request lands in the same inbox), and the server refuses a
heartbeat longer than half the expiry ("heartbeat value too large"): a
spurious failure, a resubscription and a pause in the middle of a live stream.
The watchdog above needs no heartbeats.

A fetch is two pulls: one for a single message, waiting up to the fetch's
timeout, then one for the rest of the batch, waiting at most ``linger`` (5 ms).
nats-py sends its first pull with an expiry, which the server takes as a
lingering pull that ends only when the batch is full or the expiry passes: on
a live trickle (1,000 events/s, batches of 1,000) every fetch waited about a
second for its batch to fill, and that was the end-to-end lag. Catching up,
the second pull fills at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from kiroku.bus.cancel import recancel
from kiroku.bus.nats.dead import DeadLetters
from kiroku.bus.nats.wire import decode_event
from kiroku.bus.protocol import DeadLetterHandler, Delivery
from kiroku.domain.envelope import StoredEvent

__all__ = ["NatsConsumer", "NatsDelivery", "refused_heartbeat"]

log = logging.getLogger("kiroku.bus.nats")
Subscribe = Callable[[], Awaitable[JetStreamContext.PullSubscription]]


@dataclass(slots=True)
class NatsDelivery:
    event: StoredEvent
    attempt: int
    msg: Msg

    async def ack(self) -> None:
        await self.msg.ack()

    async def nak(self, delay: float = 0.0) -> None:
        await self.msg.nak(delay=delay or None)


def refused_heartbeat(e: Exception) -> bool:
    """The server's refusal of one pull request, not a sign of a broken subscription."""
    return (
        isinstance(e, nats.js.errors.APIError)
        and e.code == 400
        and "heartbeat value too large" in (e.description or "")
    )


class NatsConsumer:
    """``fetch`` never raises for a bus hiccup: it returns ``[]`` and heals itself."""

    def __init__(
        self,
        name: str,
        subscribe: Subscribe,
        dead: DeadLetters,
        *,
        stall_after: int = 5,
        linger: float = 0.005,
    ) -> None:
        self.name = name
        self.linger = linger
        self.dead = dead
        self._subscribe = subscribe
        self._sub: JetStreamContext.PullSubscription | None = None
        self.stall_after = stall_after
        self.empty = 0
        self.resubscribed = 0

    async def fetch(self, limit: int, timeout: float) -> list[Delivery]:  # noqa: ASYNC109 - a pull consumer's fetch takes its expiry
        try:
            return await self._fetch(limit, timeout)
        finally:
            recancel()  # nats-py may have swallowed a stop

    async def _fetch(self, limit: int, timeout: float) -> list[Delivery]:  # noqa: ASYNC109
        try:
            sub = await self._subscription()
            msgs = await sub.fetch(1, timeout=timeout)  # returns with the first message
            if limit > 1:
                msgs += await self._more(sub, limit - 1)
        except (TimeoutError, nats.errors.TimeoutError):
            await self._maybe_stalled()
            return []
        except (nats.errors.Error, OSError) as e:
            if refused_heartbeat(e):
                # nats-py re-asks with what is left of the timeout, which may be under two
                # heartbeats: the server refuses that request but the subscription is sound,
                # and deliveries in its queue come with the next fetch (a new one loses them)
                return []
            log.warning("consumer %s: fetch failed (%s: %s); resubscribing", self.name,
                        type(e).__name__, e)  # fmt: skip
            await self._drop()
            await asyncio.sleep(min(timeout, 0.5))
            return []
        self.empty = 0
        return [NatsDelivery(decode_event(m.data), m.metadata.num_delivered or 1, m) for m in msgs]

    async def _more(self, sub: JetStreamContext.PullSubscription, limit: int) -> list[Msg]:
        """What else is there now, waiting at most ``linger`` for it."""
        try:
            return await sub.fetch(limit, timeout=self.linger)
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    async def pending(self) -> int:
        """From the server's consumer info; a bus that cannot answer counts as busy."""
        try:
            info = await (await self._subscription()).consumer_info()
        except (nats.errors.Error, OSError, TimeoutError):
            return 1
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)

    async def dead_letters(self, handle: DeadLetterHandler) -> int:
        try:
            return await self.dead.drain(handle)
        except (nats.errors.Error, OSError) as e:
            log.warning("consumer %s: reading dead letters failed: %s", self.name, e)
            self.dead.reset()
            return 0

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            self._sub = await self._subscribe()
            self.resubscribed += 1
        return self._sub

    async def _maybe_stalled(self) -> None:
        """The watchdog: empty fetches while the server holds messages for us."""
        self.empty += 1
        if self.empty < self.stall_after or self._sub is None:
            return
        self.empty = 0
        try:
            info = await self._sub.consumer_info()
        except (nats.errors.Error, OSError):
            await self._drop()
            return
        if info.num_pending:
            log.warning("consumer %s: stalled with %s pending; resubscribing", self.name,
                        info.num_pending)  # fmt: skip
            await self._drop()

    async def _drop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            # the connection may be gone: the new subscription replaces it
            with contextlib.suppress(nats.errors.Error, OSError):
                await sub.unsubscribe()

    async def close(self) -> None:
        await self._drop()
