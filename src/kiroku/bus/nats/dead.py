"""Dead letters: events JetStream stopped redelivering (``MaxDeliver`` reached).

The server announces each with a ``MAX_DELIVERIES`` advisory, a plain message
that is gone if nobody listens at that moment, and the moment it is sent is
exactly when a projector may be down (crashing on that very event). So the
advisories are captured into a stream of their own (``<STREAM>_DEAD``), and
each projector reads its consumer's share with a durable consumer of its own,
acknowledging an advisory only after the event was handed on (parked).
"""

from __future__ import annotations

import json
import logging

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig

from kiroku.bus.nats.wire import decode_event
from kiroku.bus.protocol import DeadLetterHandler

__all__ = ["DeadLetters", "advisory_subject", "dead_stream_config"]

log = logging.getLogger("kiroku.bus.nats")
_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"


def advisory_subject(stream: str, durable: str) -> str:
    return f"{_ADVISORY}.{stream}.{durable}"


def dead_stream_config(stream: str) -> StreamConfig:
    return StreamConfig(
        name=f"{stream}_DEAD", subjects=[advisory_subject(stream, "*")],
        storage=StorageType.FILE, max_age=30 * 86400.0,
    )  # fmt: skip


class DeadLetters:
    def __init__(self, js: JetStreamContext, stream: str, durable: str) -> None:
        self.js, self.stream, self.durable = js, stream, durable
        self._sub: JetStreamContext.PullSubscription | None = None

    async def drain(self, handle: DeadLetterHandler) -> int:
        sub = await self._subscription()
        try:
            msgs = await sub.fetch(100, timeout=0.2)
        except (TimeoutError, nats.errors.TimeoutError):
            return 0
        for msg in msgs:
            advisory = json.loads(msg.data)
            stored = await self.js.get_msg(self.stream, int(advisory["stream_seq"]))
            event = decode_event(stored.data or b"")
            await handle(event, int(advisory.get("deliveries", 0)))
            await msg.ack()
        return len(msgs)

    async def _subscription(self) -> JetStreamContext.PullSubscription:
        if self._sub is None:
            name = f"{self.durable}_dead"
            config = ConsumerConfig(
                durable_name=name, ack_policy=AckPolicy.EXPLICIT,
                filter_subject=advisory_subject(self.stream, self.durable),
            )  # fmt: skip
            await self.js.add_consumer(f"{self.stream}_DEAD", config)
            self._sub = await self.js.pull_subscribe_bind(name, stream=f"{self.stream}_DEAD")
        return self._sub

    def reset(self) -> None:
        self._sub = None
