"""What one registration says (an event type, an upcaster step) and the checks it
must pass on its own; the registry checks how registrations fit together."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from kiroku.domain.envelope import JSON
from kiroku.errors import RegistrationError

__all__ = ["EventType", "UpcastFn", "Upcaster", "check_chain", "check_spec", "fn_name"]

UpcastFn: TypeAlias = Callable[[dict[str, JSON]], dict[str, JSON]]


@dataclass(frozen=True, slots=True)
class EventType:
    """One registered event type: its stored name, current version and class.

    ``first_version`` is the oldest stored version this code can read. It is 1
    unless the older versions never reached a journal (a type introduced at v3
    says so with ``first_version=3``); every step from it to ``version`` needs
    an upcaster.
    """

    name: str
    version: int
    cls: type
    aliases: tuple[str, ...] = ()
    first_version: int = 1

    @property
    def stored_names(self) -> tuple[str, ...]:
        """Every name an event of this type may be stored under, current first."""
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class Upcaster:
    """Turns the stored JSON object of ``name`` at ``from_version`` into ``from_version + 1``."""

    name: str
    from_version: int
    fn: UpcastFn

    @property
    def to_version(self) -> int:
        return self.from_version + 1

    @property
    def fn_name(self) -> str:
        return fn_name(self.fn)


def check_spec(spec: EventType) -> None:
    """Versions in range and no name twice: what one registration can get wrong alone."""
    if spec.version < 1:
        raise RegistrationError(f"Event {spec.name!r}: version must be >= 1, got {spec.version}")
    if not 1 <= spec.first_version <= spec.version:
        raise RegistrationError(
            f"Event {spec.name!r}: first_version must be between 1 and the version "
            f"{spec.version}, got {spec.first_version}"
        )
    names = spec.stored_names
    if len(set(names)) != len(names):
        raise RegistrationError(f"Event {spec.name!r}: aliases repeat a name: {names}")


def check_chain(spec: EventType, versions: list[int]) -> None:
    """``versions`` (sorted from-versions) must be exactly first_version .. version-1."""
    past = [v for v in versions if v >= spec.version]
    if past:
        raise RegistrationError(
            f"Upcaster {spec.name!r} v{past[0]}->v{past[0] + 1} goes past the current "
            f"version {spec.version}"
        )
    before = [v for v in versions if v < spec.first_version]
    if before:
        raise RegistrationError(
            f"Upcaster {spec.name!r} v{before[0]}->v{before[0] + 1} is older than "
            f"first_version {spec.first_version}"
        )
    missing = sorted(set(range(spec.first_version, spec.version)) - set(versions))
    if missing:
        gaps = ", ".join(f"v{v}->v{v + 1}" for v in missing)
        raise RegistrationError(
            f"Upcaster chain for {spec.name!r} (v{spec.first_version}..v{spec.version}) has a "
            f"gap: missing {gaps}; register the steps, or pass first_version= to @event if "
            "older versions were never stored"
        )


def fn_name(fn: Callable[..., object]) -> str:
    return getattr(fn, "__qualname__", repr(fn))
