"""Registration mistakes surface when registering or at start-up, never at read time."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kiroku.domain.envelope import JSON
from kiroku.errors import RegistrationError, UnknownEventTypeError
from kiroku.schema import Codec, Registry, Upcaster, event, upcaster


def _same(data: dict[str, JSON]) -> dict[str, JSON]:
    return data


def _other(data: dict[str, JSON]) -> dict[str, JSON]:
    return dict(data)


def _registry_with(
    name: str, version: int, *, aliases: tuple[str, ...] = (), first_version: int = 1
) -> Registry:
    registry = Registry()

    @event(name, version, aliases=aliases, first_version=first_version, registry=registry)
    @dataclass(frozen=True, slots=True)
    class Happened:
        x: int

    return registry


def test_two_upcasters_for_one_step_are_rejected_when_registered() -> None:
    registry = _registry_with("t.Happened", 2)
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    with pytest.raises(RegistrationError, match=r"Two upcasters for 't.Happened' v1->v2"):
        registry.add_upcaster(Upcaster("t.Happened", 1, _other))


def test_registering_the_same_upcaster_twice_is_harmless() -> None:
    registry = _registry_with("t.Happened", 2)
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    registry.validate()
    assert [u.from_version for u in registry.upcasters_of("t.Happened")] == [1]


def test_a_gap_in_the_chain_fails_at_start_up() -> None:
    registry = _registry_with("t.Happened", 4)
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    registry.add_upcaster(Upcaster("t.Happened", 3, _same))
    with pytest.raises(RegistrationError, match=r"has a gap: missing v2->v3"):
        Codec(registry)


def test_a_missing_first_step_is_a_gap() -> None:
    registry = _registry_with("t.Happened", 3)
    registry.add_upcaster(Upcaster("t.Happened", 2, _same))
    with pytest.raises(RegistrationError, match=r"missing v1->v2"):
        registry.validate()


def test_a_version_bump_without_any_upcaster_is_a_gap() -> None:
    registry = _registry_with("t.Happened", 2)
    with pytest.raises(RegistrationError, match=r"missing v1->v2"):
        registry.validate()


def test_first_version_declares_that_older_versions_were_never_stored() -> None:
    registry = _registry_with("t.Happened", 3, first_version=2)
    registry.add_upcaster(Upcaster("t.Happened", 2, _same))
    registry.validate()


def test_an_upcaster_older_than_first_version_is_rejected() -> None:
    registry = _registry_with("t.Happened", 3, first_version=2)
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    registry.add_upcaster(Upcaster("t.Happened", 2, _same))
    with pytest.raises(RegistrationError, match=r"v1->v2 is older than first_version 2"):
        registry.validate()


def test_a_chain_past_the_current_version_fails_at_start_up() -> None:
    registry = _registry_with("t.Happened", 2)
    registry.add_upcaster(Upcaster("t.Happened", 1, _same))
    registry.add_upcaster(Upcaster("t.Happened", 2, _same))
    with pytest.raises(RegistrationError, match=r"v2->v3 goes past the current version 2"):
        registry.validate()


def test_upcasters_for_an_unknown_type_fail_at_start_up() -> None:
    registry = _registry_with("t.Happened", 1)
    registry.add_upcaster(Upcaster("t.Nope", 1, _same))
    with pytest.raises(RegistrationError, match=r"'t.Nope', but no event type has that name"):
        registry.validate()


def test_upcasters_under_an_alias_point_to_the_current_name() -> None:
    registry = _registry_with("t.Happened", 2, aliases=("old.Happened",))
    registry.add_upcaster(Upcaster("old.Happened", 1, _same))
    with pytest.raises(RegistrationError, match=r"alias of 't.Happened'.*under the current name"):
        registry.validate()


def test_from_version_below_one_is_rejected() -> None:
    with pytest.raises(RegistrationError, match=r"from_version must be >= 1, got 0"):
        Registry().add_upcaster(Upcaster("t.Happened", 0, _same))


def test_an_alias_colliding_with_a_live_name_is_rejected() -> None:
    registry = _registry_with("t.Live", 1)
    with pytest.raises(RegistrationError, match=r"Alias 't.Live' of 't.New' collides .* 't.Live'"):

        @event("t.New", aliases=("t.Live",), registry=registry)
        @dataclass(frozen=True, slots=True)
        class New:
            x: int


def test_a_live_name_colliding_with_an_earlier_alias_is_rejected() -> None:
    registry = _registry_with("t.New", 1, aliases=("t.Old",))
    with pytest.raises(RegistrationError, match=r"'t.Old' is already an alias of 't.New'"):

        @event("t.Old", registry=registry)
        @dataclass(frozen=True, slots=True)
        class Old:
            x: int


def test_two_types_claiming_one_alias_are_rejected() -> None:
    registry = _registry_with("t.A", 1, aliases=("t.Old",))
    with pytest.raises(RegistrationError, match=r"Alias 't.Old' of 't.B' collides .* 't.A'"):

        @event("t.B", aliases=("t.Old",), registry=registry)
        @dataclass(frozen=True, slots=True)
        class B:
            x: int


def test_an_alias_repeating_its_own_name_is_rejected() -> None:
    with pytest.raises(RegistrationError, match=r"aliases repeat a name"):
        _registry_with("t.A", 1, aliases=("t.A",))


def test_a_name_registered_to_two_classes_is_rejected() -> None:
    registry = _registry_with("t.A", 1)
    with pytest.raises(
        RegistrationError,
        match=r"'t.A' is already registered to .*Happened v1; cannot register .*Other v1",
    ):

        @event("t.A", registry=registry)
        @dataclass(frozen=True, slots=True)
        class Other:
            x: int


@pytest.mark.parametrize(("version", "first"), [(0, 1), (2, 3), (2, 0)])
def test_versions_out_of_range_are_rejected(version: int, first: int) -> None:
    with pytest.raises(RegistrationError, match=r"version"):
        _registry_with("t.A", version, first_version=first)


def test_aliases_resolve_to_the_current_type() -> None:
    registry = _registry_with("t.New", 1, aliases=("t.Old", "t.Older"))
    spec = registry.resolve("t.Older")
    assert spec.name == "t.New"
    assert spec.stored_names == ("t.New", "t.Old", "t.Older")
    assert "t.Old" in registry
    assert "t.Gone" not in registry


def test_an_unknown_name_names_the_position() -> None:
    with pytest.raises(UnknownEventTypeError, match=r"'t.Gone' at position 17"):
        Registry().resolve("t.Gone", 17)


def test_marked_classes_and_functions_can_be_adopted_by_another_registry() -> None:
    first = Registry()

    @event("t.Moved", 2, registry=first)
    @dataclass(frozen=True, slots=True)
    class Moved:
        x: int

    @upcaster("t.Moved", from_version=1, registry=first)
    def moved_v1(data: dict[str, JSON]) -> dict[str, JSON]:
        return data

    second = Registry(types=[Moved], upcasters=[moved_v1])
    second.validate()
    assert second.for_class(Moved).version == 2
    assert [u.fn_name for u in second.upcasters_of("t.Moved")] == [moved_v1.__qualname__]


def test_unmarked_classes_and_functions_are_rejected() -> None:
    class Plain:
        pass

    with pytest.raises(RegistrationError, match=r"Plain is not marked with @event"):
        Registry(types=[Plain])
    with pytest.raises(RegistrationError, match=r"_same is not marked with @upcaster"):
        Registry(upcasters=[_same])
