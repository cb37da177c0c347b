"""Publishing a batch with one reply handler for the whole batch.

nats-py's ``publish_async`` makes a future, a semaphore slot and a parsed
``PubAck`` per message: about half the relay's time. A relay only needs to know
that every message of the batch was stored, so each message's reply subject
names the batch, and one subscription counts the acks, looking inside an ack
only for an error. Subjects are cached per stream (category and partition
never change for a stream).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Sequence

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from kiroku.bus.errors import BusError
from kiroku.bus.nats.wire import encode_event
from kiroku.bus.subjects import subject_of
from kiroku.domain.envelope import StoredEvent

__all__ = ["BatchPublisher"]


class _Batch:
    def __init__(self, size: int) -> None:
        self.left = size
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def acked(self, data: bytes) -> None:
        if self.done.done():
            return
        if b'"error"' in data:
            self.done.set_exception(BusError(f"JetStream refused a message: {data[:200]!r}"))
            return
        self.left -= 1
        if self.left == 0:
            self.done.set_result(None)


class BatchPublisher:
    def __init__(self, nc: Client, prefix: str, partitions: int, timeout: float) -> None:
        self.nc, self.prefix, self.partitions, self.timeout = nc, prefix, partitions, timeout
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._batches: dict[str, _Batch] = {}
        self._ids = itertools.count(1)
        self._subjects: dict[str, str] = {}

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        await (await self.send(events))

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        """Write the batch (in order) and return what completes once every message is
        stored: the caller may send the next batch meanwhile, order is kept."""
        if self._sub is None:
            self._sub = await self.nc.subscribe(f"{self._inbox}.*", cb=self._on_ack)
        token = str(next(self._ids))
        batch = self._batches[token] = _Batch(len(events))
        reply = f"{self._inbox}.{token}"
        try:
            for event in events:
                await self.nc.publish(
                    self._subject(event), encode_event(event), reply=reply,
                    headers={"Nats-Msg-Id": str(event.event_id)},
                )  # fmt: skip
        except BaseException:
            del self._batches[token]
            raise
        return self._acked(token, batch)

    async def _acked(self, token: str, batch: _Batch) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await batch.done
        finally:
            del self._batches[token]

    def _subject(self, event: StoredEvent) -> str:
        subject = self._subjects.get(event.stream)
        if subject is None:
            if len(self._subjects) > 100_000:
                self._subjects.clear()
            subject = self._subjects[event.stream] = subject_of(self.prefix, event, self.partitions)
        return subject

    async def _on_ack(self, msg: Msg) -> None:
        batch = self._batches.get(msg.subject.rpartition(".")[2])
        if batch is not None:  # else: a late ack of a batch that timed out
            batch.acked(msg.data)
