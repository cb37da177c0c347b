"""The NATS JetStream bus: ``pip install 'kiroku[nats]'``."""

from kiroku.bus.nats.bus import NatsBus, NatsOptions
from kiroku.bus.nats.consumer import NatsConsumer
from kiroku.bus.nats.kv import NatsCheckpoint, NatsLease

__all__ = ["NatsBus", "NatsCheckpoint", "NatsConsumer", "NatsLease", "NatsOptions"]
