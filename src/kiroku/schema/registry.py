"""Which event types exist, under which stored names and versions, and how old forms upcast.

Stored names are chosen by people (``"chat.MessagePosted"``), never derived from
a Python import path, so moving a module never rewrites history. Each type has a
current schema version; events stored at an older version are upcast on read
through a chain of small pure functions, one per step, registered once. A type
renamed in production keeps its old stored name as an alias, and its version
numbers continue across the rename: the chain is one history.

Mistakes in registrations (two upcasters for one step, a gap in a chain, a chain
past the current version, an alias that collides with a live name) are raised
when registering or at ``validate()`` — which ``Codec()`` runs at start-up —
rather than when the first old event is read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from kiroku.errors import RegistrationError, UnknownEventTypeError
from kiroku.schema.specs import EventType, Upcaster, UpcastFn, check_chain, check_spec, fn_name

__all__ = [
    "DEFAULT_REGISTRY",
    "EventType",
    "Registry",
    "UpcastFn",
    "Upcaster",
    "event",
    "upcaster",
]

T = TypeVar("T", bound=type)
F = TypeVar("F", bound=UpcastFn)

_EVENT_ATTR = "__kiroku_event__"
_UPCASTER_ATTR = "__kiroku_upcaster__"


class Registry:
    """A set of event types and upcasters. Apps usually use ``DEFAULT_REGISTRY``
    through the ``@event`` and ``@upcaster`` decorators; tests build their own."""

    def __init__(
        self, types: Iterable[type] = (), upcasters: Iterable[UpcastFn | Upcaster] = ()
    ) -> None:
        self._by_name: dict[str, EventType] = {}
        self._by_alias: dict[str, EventType] = {}
        self._by_class: dict[type, EventType] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        self._chains: dict[tuple[str, int], tuple[Upcaster, ...]] = {}
        for cls in types:
            self.add_class(cls)
        for up in upcasters:
            self.add_upcaster(up if isinstance(up, Upcaster) else _upcaster_of(up))

    # -- registration -------------------------------------------------------

    def add_class(self, cls: type) -> EventType:
        """Register a class already marked with ``@event``."""
        spec = getattr(cls, _EVENT_ATTR, None)
        if not isinstance(spec, EventType):
            raise RegistrationError(f"{cls.__qualname__} is not marked with @event(name, version)")
        return self.add(spec)

    def add(self, spec: EventType) -> EventType:
        """Register ``spec``; registering an equal spec again is a no-op."""
        same = self._by_name.get(spec.name)
        if same is not None and same == spec:
            return same
        check_spec(spec)
        self._check_free(spec, same)
        self._by_name[spec.name] = spec
        self._by_class[spec.cls] = spec
        for alias in spec.aliases:
            self._by_alias[alias] = spec
        self._chains.clear()
        return spec

    def _check_free(self, spec: EventType, same: EventType | None) -> None:
        if same is not None:
            raise RegistrationError(
                f"Event name {spec.name!r} is already registered to {same.cls.__qualname__} "
                f"v{same.version}; cannot register {spec.cls.__qualname__} v{spec.version}"
            )
        if spec.name in self._by_alias:
            raise RegistrationError(
                f"Event name {spec.name!r} is already an alias of "
                f"{self._by_alias[spec.name].name!r}"
            )
        for alias in spec.aliases:
            owner = self._by_name.get(alias) or self._by_alias.get(alias)
            if owner is not None:
                raise RegistrationError(
                    f"Alias {alias!r} of {spec.name!r} collides with the registered "
                    f"event {owner.name!r}"
                )
        other = self._by_class.get(spec.cls)
        if other is not None:
            raise RegistrationError(
                f"{spec.cls.__qualname__} is already registered as {other.name!r}"
            )

    def add_upcaster(self, up: Upcaster) -> None:
        """Register one step; a second, different function for the same step is an error."""
        if up.from_version < 1:
            raise RegistrationError(
                f"Upcaster {up.fn_name} for {up.name!r}: from_version must be >= 1, "
                f"got {up.from_version}"
            )
        key = (up.name, up.from_version)
        existing = self._upcasters.get(key)
        if existing is not None and existing.fn is not up.fn:
            raise RegistrationError(
                f"Two upcasters for {up.name!r} v{up.from_version}->v{up.to_version}: "
                f"{existing.fn_name} and {up.fn_name}"
            )
        self._upcasters[key] = up
        self._chains.clear()

    def validate(self) -> None:
        """Check every upcaster chain: no gaps, none past the current version, none orphaned."""
        steps: dict[str, list[int]] = {spec.name: [] for spec in self._by_name.values()}
        for name, from_version in self._upcasters:
            if name not in steps:
                raise RegistrationError(self._orphan_message(name))
            steps[name].append(from_version)
        for name, versions in steps.items():
            check_chain(self._by_name[name], sorted(versions))

    def _orphan_message(self, name: str) -> str:
        owner = self._by_alias.get(name)
        if owner is not None:
            return (
                f"Upcasters are registered under {name!r}, an alias of {owner.name!r}: "
                f"register them under the current name {owner.name!r}"
            )
        return f"Upcasters are registered for {name!r}, but no event type has that name"

    # -- lookup -------------------------------------------------------------

    def resolve(self, name: str, position: int | None = None) -> EventType:
        """The type stored under ``name`` (canonical or alias)."""
        spec = self._by_name.get(name) or self._by_alias.get(name)
        if spec is None:
            raise UnknownEventTypeError(name, position)
        return spec

    def for_class(self, cls: type) -> EventType:
        spec = self._by_class.get(cls)
        if spec is None:
            spec = getattr(cls, _EVENT_ATTR, None)
            if not isinstance(spec, EventType):
                raise RegistrationError(f"{cls.__qualname__} is not a registered event type")
            self.add(spec)
        return spec

    def upcaster(self, name: str, from_version: int) -> Upcaster | None:
        return self._upcasters.get((name, from_version))

    def chain(self, name: str, from_version: int) -> tuple[Upcaster, ...]:
        """The steps from ``from_version`` up to the current version, cached.

        Stops early at a missing step; callers compare its length with the
        distance to the current version (``validate`` makes that impossible).
        """
        key = (name, from_version)
        chain = self._chains.get(key)
        if chain is None:
            spec = self._by_name[name]
            found: list[Upcaster] = []
            for version in range(from_version, spec.version):
                step = self._upcasters.get((name, version))
                if step is None:
                    break
                found.append(step)
            chain = self._chains[key] = tuple(found)
        return chain

    @property
    def types(self) -> Mapping[str, EventType]:
        return dict(self._by_name)

    def upcasters_of(self, name: str) -> list[Upcaster]:
        return sorted(
            (u for (n, _), u in self._upcasters.items() if n == name), key=lambda u: u.from_version
        )

    def __contains__(self, name: object) -> bool:
        return name in self._by_name or name in self._by_alias


DEFAULT_REGISTRY = Registry()


def event(
    name: str,
    version: int = 1,
    *,
    aliases: Iterable[str] = (),
    first_version: int = 1,
    registry: Registry | None = None,
) -> Callable[[T], T]:
    """Mark a class as an event stored under ``name`` at schema ``version``.

    ``aliases`` are names the type was stored under before a rename. The class
    is registered with ``registry`` (the default one unless given) and also
    carries the mark, so other registries can adopt it with ``add_class``.
    """

    def mark(cls: T) -> T:
        spec = EventType(name, version, cls, tuple(aliases), first_version)
        (registry or DEFAULT_REGISTRY).add(spec)
        setattr(cls, _EVENT_ATTR, spec)
        return cls

    return mark


def upcaster(name: str, *, from_version: int, registry: Registry | None = None) -> Callable[[F], F]:
    """Register ``fn`` as the step that turns ``name`` v``from_version`` into the next version.

    An upcaster is a pure function of the stored JSON object: it must not read
    clocks, databases or settings, so replaying history always gives the same
    result.
    """

    def mark(fn: F) -> F:
        up = Upcaster(name=name, from_version=from_version, fn=fn)
        (registry or DEFAULT_REGISTRY).add_upcaster(up)
        setattr(fn, _UPCASTER_ATTR, up)
        return fn

    return mark


def _upcaster_of(fn: UpcastFn) -> Upcaster:
    up = getattr(fn, _UPCASTER_ATTR, None)
    if not isinstance(up, Upcaster):
        raise RegistrationError(f"{fn_name(fn)} is not marked with @upcaster")
    return up
