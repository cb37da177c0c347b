"""The NATS JetStream bus (nats-py; server 2.10 or later, tested on 2.15).

One JetStream stream (``KIROKU`` by default) holds every event under
``<prefix>.<category>.<partition>``, file-stored, with a dedupe window: a
publish carries ``Nats-Msg-Id = event id``, so the same event published twice
within the window (a relay restarted between publish and checkpoint, or a
fenced relay's last batch) is stored once. Consumers are durable pull consumers
with explicit acks, bounded redelivery (``max_deliver``) and a back-off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import nats
import nats.errors
import nats.js.errors as jse
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, StorageType, StreamConfig
from nats.js.kv import KeyValue

from kiroku.bus.errors import BusError, BusUnavailableError
from kiroku.bus.nats.consumer import NatsConsumer
from kiroku.bus.nats.dead import DeadLetters, dead_stream_config
from kiroku.bus.nats.kv import NatsCheckpoint, NatsLease
from kiroku.bus.nats.publisher import BatchPublisher
from kiroku.bus.subjects import DEFAULT_PARTITIONS, token
from kiroku.domain.envelope import StoredEvent

__all__ = ["NatsBus", "NatsOptions"]

log = logging.getLogger("kiroku.bus.nats")


@dataclass(frozen=True, slots=True)
class NatsOptions:
    stream: str = "KIROKU"
    prefix: str = "kiroku"
    partitions: int = DEFAULT_PARTITIONS
    duplicate_window: float = 600.0  # seconds; covers a relay's restart and republish
    publish_timeout: float = 10.0
    ack_wait: float = 30.0  # a batch must be committed and acked within this
    max_deliver: int = 5
    backoff: tuple[float, ...] = (10.0, 30.0, 120.0, 300.0)  # waits before each redelivery
    lease_ttl: float = 5.0
    connect_deadline: float = 5.0  # seconds to reach the server at start


class NatsBus:
    def __init__(self, url: str, nc: Client, options: NatsOptions) -> None:
        self.url = url
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream()
        self.options = options
        self.partitions = options.partitions
        self._kv: dict[str, KeyValue] = {}
        self._publisher = BatchPublisher(
            nc, options.prefix, options.partitions, options.publish_timeout
        )

    @classmethod
    async def connect(cls, url: str, options: NatsOptions | None = None) -> NatsBus:
        """Connect and make sure the stream exists; BusUnavailableError names the URL."""
        options = options or NatsOptions()
        errors = _Errors()
        try:
            # Reconnects never stop once connected; the first connect gets a deadline.
            async with asyncio.timeout(options.connect_deadline):
                nc = await nats.connect(
                    url, name="kiroku", connect_timeout=2, max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5, error_cb=errors.note,
                )  # fmt: skip
        except (OSError, nats.errors.Error, TimeoutError) as e:
            cause = errors.last or e
            reason = f"{type(cause).__name__}: {cause}".rstrip(": ")
            raise BusUnavailableError(url, reason) from e
        errors.connected = True
        bus = cls(url, nc, options)
        try:
            await bus.ensure_stream()
        except (TimeoutError, nats.errors.Error) as e:
            await nc.close()
            raise BusUnavailableError(url, f"JetStream not usable ({e}); start with -js") from e
        return bus

    async def ensure_stream(self) -> None:
        o = self.options
        config = StreamConfig(
            name=o.stream, subjects=[f"{o.prefix}.>"], storage=StorageType.FILE,
            duplicate_window=o.duplicate_window,
        )  # fmt: skip
        for wanted in (config, dead_stream_config(o.stream)):
            try:
                await self.js.stream_info(wanted.name or "")
            except jse.NotFoundError:
                await self.js.add_stream(wanted)

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        await (await self.send(events))

    async def send(self, events: Sequence[StoredEvent]) -> Awaitable[None]:
        try:
            acked = await self._publisher.send(events)
        except (nats.errors.Error, TimeoutError) as e:
            raise BusError(f"publish to {self.url} failed: {type(e).__name__}: {e}") from e
        return self._converted(acked)

    async def _converted(self, acked: Awaitable[None]) -> None:
        try:
            await acked
        except (nats.errors.Error, TimeoutError) as e:
            raise BusError(f"publish to {self.url} failed: {type(e).__name__}: {e}") from e

    async def consumer(self, name: str, partitions: Sequence[int] | None = None) -> NatsConsumer:
        durable = consumer_name(name, partitions)
        config = self.consumer_config(durable, partitions)

        async def subscribe() -> JetStreamContext.PullSubscription:
            await self.ensure_stream()
            await self.js.add_consumer(self.options.stream, config)
            return await self.js.pull_subscribe_bind(durable, stream=self.options.stream)

        dead = DeadLetters(self.js, self.options.stream, durable)
        return NatsConsumer(durable, subscribe, dead)

    def consumer_config(self, durable: str, partitions: Sequence[int] | None) -> ConsumerConfig:
        o = self.options
        if partitions is None:
            subjects = [f"{o.prefix}.>"]
        else:
            subjects = [f"{o.prefix}.*.{p}" for p in sorted(set(partitions))]
        return ConsumerConfig(
            durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=o.ack_wait,
            max_deliver=o.max_deliver, backoff=list(o.backoff[: o.max_deliver - 1]) or None,
            filter_subjects=subjects, max_ack_pending=20_000,
        )  # fmt: skip

    async def _bucket(self, bucket: str, ttl: float | None) -> KeyValue:
        kv = self._kv.get(bucket)
        if kv is None:
            try:
                kv = await self.js.key_value(bucket)
            except jse.BucketNotFoundError:
                kv = await self.js.create_key_value(bucket=bucket, history=1, ttl=ttl)
            self._kv[bucket] = kv
        return kv

    def lease(self, name: str, holder: str, ttl: float) -> NatsLease:
        """Leases live in a bucket whose entries expire after ``ttl`` (one TTL per
        stream: every relay of a deployment must use the same)."""
        bucket = f"{self.options.stream}_leases"
        return NatsLease(lambda: self._bucket(bucket, ttl), name, holder, ttl)

    def checkpoint(self, name: str) -> NatsCheckpoint:
        bucket = f"{self.options.stream}_checkpoints"
        return NatsCheckpoint(lambda: self._bucket(bucket, None), name)

    async def close(self) -> None:
        if not self.nc.is_closed:
            try:
                async with asyncio.timeout(5):  # a flush to a dead server must not hang
                    await self.nc.close()
            except TimeoutError:
                log.warning("closing the connection to %s timed out", self.url)


def consumer_name(name: str, partitions: Sequence[int] | None) -> str:
    """A durable name per projection (and partition set): NATS allows no dots in it."""
    base = token(name).replace("/", "_")
    if partitions is None:
        return base
    return base + "-p" + "_".join(str(p) for p in sorted(set(partitions)))


class _Errors:
    """The client's error callback: kept while connecting (to explain a failure),
    logged once connected (the client reconnects by itself)."""

    def __init__(self) -> None:
        self.connected = False
        self.last: BaseException | None = None

    async def note(self, e: Exception) -> None:
        if self.connected:
            log.warning("nats: %s: %s", type(e).__name__, e)
        else:
            self.last = e
