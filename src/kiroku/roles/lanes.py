"""A projector's runners fed by the bus: a durable consumer per projection, or,
with ``--partitions``, per projection and partition set — a lane, sharing the
projection with the projectors of the other sets (``kiroku.projections.lanes``
says what the lanes share and how).

A lane marks itself idle at the relay's checkpoint when the bus holds nothing
for it, and when another lane's rebuild swaps the projection's generation it
hands over to a runner on the new one (``follow_swap``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

from kiroku.bus.protocol import Bus
from kiroku.bus.source import BusSource
from kiroku.projections.host import ProjectionHost
from kiroku.projections.lanes import Lane
from kiroku.roles.deadletter import parker

__all__ = ["LANE_FETCH_TIMEOUT", "feed_from_bus", "follow_swap"]

log = logging.getLogger("kiroku.roles")

LANE_FETCH_TIMEOUT = 0.2  # how long a lane waits on an empty bus before it looks idle


def feed_from_bus(host: ProjectionHost, bus: Bus, partitions: Sequence[int] | None) -> None:
    """Point every runner of ``host`` at ``bus``; with ``partitions``, as lanes."""
    relay = bus.checkpoint("relay")
    for runner in host.runners.values():
        if partitions is None:
            runner.source = BusSource(bus, runner.name, on_dead_letter=parker(runner))
            continue
        runner.source = BusSource(
            bus,
            runner.name,
            partitions=partitions,
            fetch_timeout=LANE_FETCH_TIMEOUT,
            on_dead_letter=parker(runner),
            watermark=relay.load,
            on_idle=functools.partial(_mark_idle, host, runner.name),
        )
        runner.lane = Lane(tuple(partitions))
        runner.on_moved = functools.partial(follow_swap, host, runner.name)


async def _mark_idle(host: ProjectionHost, name: str, position: int) -> None:
    await host.runner(name).mark_idle(position)  # the serving runner, after a swap too


async def follow_swap(host: ProjectionHost, name: str) -> None:
    """Another lane's rebuild swapped ``name``'s generation: serve and write the new one."""
    old = host.runner(name)
    fresh = host.make_runner(name, host.stores.generation(name))
    fresh.source, fresh.lane, fresh.on_moved = old.source, old.lane, old.on_moved
    host.install(name, fresh)
    old.store.close()
    log.info("%s: following the generation another projector swapped in", name)
    await fresh.start()
