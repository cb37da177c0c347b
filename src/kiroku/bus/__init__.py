"""The message bus between the journal and the projection runners.

``Relay`` publishes the journal to a ``Bus`` (in-process ``MemoryBus``, or
``kiroku.bus.nats.NatsBus``); ``BusSource`` feeds a projection runner from a
durable consumer. ``bus_from_url`` opens either from a URL.
"""

from kiroku.bus.errors import BusError, BusUnavailableError, LeaseLostError
from kiroku.bus.memory import MemoryBus
from kiroku.bus.protocol import Bus, Checkpoint, Consumer, Delivery, Lease
from kiroku.bus.relay import Relay, RelayStatus
from kiroku.bus.subjects import partition_of, subject_of

__all__ = [
    "Bus",
    "BusError",
    "BusUnavailableError",
    "Checkpoint",
    "Consumer",
    "Delivery",
    "Lease",
    "LeaseLostError",
    "MemoryBus",
    "Relay",
    "RelayStatus",
    "partition_of",
    "subject_of",
]
