"""The event catalog: who emits which event, who handles it, which commands follow.

Built from declarations only — deciders (their event and command types),
projections and hold-back consumers (what they handle) and process managers
(what they handle and which commands they send) — so it exists before a single
event is written. Its edges are the event -> command -> event flows between
aggregates; ``check`` refuses a cycle among them unless a process manager on
it declares ``allow_cycle``. Missing links (an event handled that nobody
emits, an event nobody handles, a command no aggregate accepts, a flow an
aggregate did not list in ``depends_on``) are warnings.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kiroku.catalog.graph import find_cycle
from kiroku.catalog.introspect import command_types, emitted_types, field_names
from kiroku.catalog.process import ProcessManager
from kiroku.corrections.events import is_system_type
from kiroku.domain.decider import Decider
from kiroku.errors import ConfigError, EventCycleError
from kiroku.schema.registry import Registry

__all__ = ["AggregateInfo", "Catalog", "ConsumerInfo", "Edge", "EventInfo", "build_catalog"]

AnyDecider = type[Decider[object, object, object]]


@dataclass(frozen=True, slots=True)
class EventInfo:
    name: str
    cls: type
    fields: tuple[str, ...]
    emitted_by: tuple[str, ...]
    handled_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AggregateInfo:
    category: str
    decider: str
    emits: tuple[str, ...]
    accepts: tuple[str, ...]
    depends_on: tuple[str, ...]
    state_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """A projection (``kind="projection"``), hold-back consumer or process manager."""

    name: str
    kind: str
    handles: tuple[str, ...]
    sends: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (command, target categories)
    allow_cycle: bool = False


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` emits ``event``; ``via`` reacts by sending ``command`` to ``target``."""

    source: str
    event: str
    via: str
    command: str
    target: str
    allowed: bool = False


@dataclass(frozen=True, slots=True)
class Catalog:
    aggregates: tuple[AggregateInfo, ...]
    consumers: tuple[ConsumerInfo, ...]
    events: tuple[EventInfo, ...]
    edges: tuple[Edge, ...]
    warnings: tuple[str, ...] = field(default=())

    def event(self, name: str) -> EventInfo:
        for info in self.events:
            if info.name == name:
                return info
        raise KeyError(name)

    def cycle(self) -> tuple[str, ...] | None:
        """The first forbidden cycle, spelled out with events and senders, or None."""
        live = [e for e in self.edges if not e.allowed]
        successors: dict[str, list[str]] = {}
        for e in live:
            successors.setdefault(e.source, []).append(e.target)
        nodes = find_cycle(successors)
        if nodes is None:
            return None
        steps: list[str] = [nodes[0]]
        for a, b in itertools.pairwise(nodes):
            edge = min((e for e in live if e.source == a and e.target == b), key=_edge_key)
            steps += [edge.event, f"{edge.via} sends {edge.command}", b]
        return tuple(steps)

    def check(self) -> None:
        """Start-up check: raise EventCycleError naming the cycle, if any."""
        cycle = self.cycle()
        if cycle is not None:
            raise EventCycleError(cycle)
        declared = find_cycle({a.category: list(a.depends_on) for a in self.aggregates})
        if declared is not None:
            raise EventCycleError((*declared, "(declared depends_on)"))


def _edge_key(e: Edge) -> tuple[str, str, str]:
    return (e.event, e.via, e.command)


def build_catalog(
    registry: Registry,
    deciders: Iterable[object] = (),
    consumers: Iterable[object] = (),
) -> Catalog:
    """The catalog of ``deciders`` and ``consumers`` (projections, hold-back
    consumers, process managers); classes or instances alike."""
    name_of = _namer(registry)
    aggregates = tuple(_aggregate(_decider_class(d), name_of) for d in deciders)
    accepts: dict[str, list[str]] = {}
    for agg in aggregates:
        for command in agg.accepts:
            accepts.setdefault(command, []).append(agg.category)
    infos = tuple(_consumer(c, name_of, accepts) for c in consumers)
    edges = _edges(aggregates, infos)
    events = _events(registry, aggregates, infos)
    warnings = _warnings(aggregates, infos, events, edges)
    return Catalog(aggregates, infos, events, edges, warnings)


def _decider_class(decider: object) -> AnyDecider:
    cls = decider if isinstance(decider, type) else type(decider)
    if not issubclass(cls, Decider):
        raise ConfigError(f"{cls.__qualname__} is not a Decider (class or instance)")
    return cls


def _namer(registry: Registry) -> Mapping[type, str]:
    return {spec.cls: spec.name for spec in registry.types.values()}


def _stored_name(cls: type, name_of: Mapping[type, str]) -> str:
    return name_of.get(cls, cls.__qualname__)


def _aggregate(decider: AnyDecider, name_of: Mapping[type, str]) -> AggregateInfo:
    initial = getattr(decider, "initial", None)
    return AggregateInfo(
        category=decider.category,
        decider=decider.__qualname__,
        emits=tuple(sorted(_stored_name(c, name_of) for c in emitted_types(decider))),
        accepts=tuple(sorted(c.__qualname__ for c in command_types(decider))),
        depends_on=tuple(decider.depends_on),
        state_fields=field_names(type(initial)) if initial is not None else (),
    )


def _handled(consumer: object) -> tuple[type, ...]:
    handlers = getattr(consumer, "handlers", None)
    if isinstance(handlers, Mapping):
        return tuple(t for t in handlers if isinstance(t, type))
    return tuple(getattr(consumer, "handles", ()))


def _consumer(
    consumer: object, name_of: Mapping[type, str], accepts: Mapping[str, list[str]]
) -> ConsumerInfo:
    is_pm = isinstance(consumer, ProcessManager) or (
        isinstance(consumer, type) and issubclass(consumer, ProcessManager)
    )
    kind = "process" if is_pm else ("holdback" if hasattr(consumer, "hold") else "projection")
    sends = tuple(
        (c.__qualname__, tuple(sorted(accepts.get(c.__qualname__, ()))))
        for c in getattr(consumer, "sends", ())
    )
    return ConsumerInfo(
        name=str(getattr(consumer, "name", type(consumer).__qualname__)),
        kind=kind,
        handles=tuple(sorted(_stored_name(t, name_of) for t in _handled(consumer))),
        sends=sends if is_pm else (),
        allow_cycle=bool(getattr(consumer, "allow_cycle", False)),
    )


def _edges(
    aggregates: tuple[AggregateInfo, ...], consumers: tuple[ConsumerInfo, ...]
) -> tuple[Edge, ...]:
    edges: list[Edge] = []
    for pm in (c for c in consumers if c.sends):
        for agg in aggregates:
            for ev in sorted(set(agg.emits) & set(pm.handles)):
                for command, targets in pm.sends:
                    edges += [
                        Edge(agg.category, ev, pm.name, command, t, pm.allow_cycle) for t in targets
                    ]
    return tuple(edges)


def _events(
    registry: Registry, aggregates: tuple[AggregateInfo, ...], consumers: tuple[ConsumerInfo, ...]
) -> tuple[EventInfo, ...]:
    out = []
    for spec in sorted(registry.types.values(), key=lambda s: s.name):
        if is_system_type(spec.name):
            continue
        out.append(
            EventInfo(
                name=spec.name,
                cls=spec.cls,
                fields=field_names(spec.cls),
                emitted_by=tuple(a.category for a in aggregates if spec.name in a.emits),
                handled_by=tuple(c.name for c in consumers if spec.name in c.handles),
            )
        )
    return tuple(out)


def _warnings(
    aggregates: tuple[AggregateInfo, ...],
    consumers: tuple[ConsumerInfo, ...],
    events: tuple[EventInfo, ...],
    edges: tuple[Edge, ...],
) -> tuple[str, ...]:
    emitted = {e for a in aggregates for e in a.emits}
    handled = {e for c in consumers for e in c.handles}
    out = [
        f"consumer {c.name!r} handles {e!r}, which no aggregate emits"
        for c in consumers
        for e in c.handles
        if e not in emitted and not is_system_type(e)
    ]
    out += [
        f"event {e.name!r} (emitted by {', '.join(e.emitted_by)}) is handled by no consumer"
        for e in events
        if e.emitted_by and e.name not in handled
    ]
    out += [
        f"process manager {c.name!r} sends {cmd}, which no aggregate accepts"
        for c in consumers
        for cmd, targets in c.sends
        if not targets
    ]
    depends = {a.category: a.depends_on for a in aggregates}
    out += sorted(
        {
            f"aggregate {e.target!r} takes commands caused by {e.source!r} events "
            f"(via {e.via!r}) but its depends_on does not list {e.source!r}"
            for e in edges
            if e.source != e.target and e.source not in depends.get(e.target, ())
        }
    )
    return tuple(out)
