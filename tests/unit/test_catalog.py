"""The catalog: built from declarations, cycles refused at start-up, warnings, rendering."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from kiroku import Decider, Registry, event
from kiroku.catalog import (
    ProcessManager,
    Send,
    build_catalog,
    command_types,
    emitted_types,
    render,
)
from kiroku.domain.envelope import Recorded
from kiroku.errors import EventCycleError

REG = Registry()


@event("t.room.Opened", registry=REG)
@dataclass(frozen=True, slots=True)
class RoomOpened:
    room_id: str


@event("t.room.Closed", registry=REG)
@dataclass(frozen=True, slots=True)
class RoomClosed:
    room_id: str


@event("t.lobby.Closed", registry=REG)
@dataclass(frozen=True, slots=True)
class LobbyClosed:
    lobby_id: str


@event("t.orphan.Nobody", registry=REG)
@dataclass(frozen=True, slots=True)
class NobodyEmitsThis:
    x: int


@dataclass(frozen=True, slots=True)
class CloseRoom:
    room_id: str


@dataclass(frozen=True, slots=True)
class CloseLobby:
    lobby_id: str


@dataclass(frozen=True, slots=True)
class Unrouted:
    pass


@dataclass(frozen=True, slots=True)
class Flag:
    closed: bool = False


class Room(Decider[Flag, CloseRoom, RoomOpened | RoomClosed]):
    category = "room"
    initial = Flag()
    depends_on = ("lobby",)


class Lobby(Decider[Flag, CloseLobby, LobbyClosed]):
    category = "lobby"
    initial = Flag()


class RoomsCloseLobbies(ProcessManager):
    name = "rooms-close-lobbies"
    handles = (RoomClosed,)
    sends = (CloseLobby,)

    async def react(self, event: Recorded[object]) -> Sequence[Send]:
        return ()


class LobbiesCloseRooms(ProcessManager):
    name = "lobbies-close-rooms"
    handles = (LobbyClosed,)
    sends = (CloseRoom,)


class AllowedLoop(LobbiesCloseRooms):
    name = "allowed-loop"
    allow_cycle = True


class Strays(ProcessManager):
    name = "strays"
    handles = (NobodyEmitsThis,)
    sends = (Unrouted,)


@dataclass(frozen=True, slots=True)
class Timeline:
    name: str = "timeline"
    handles: tuple[type, ...] = (RoomOpened,)


def test_event_and_command_types_come_from_the_decider_type_arguments() -> None:
    assert emitted_types(Room) == (RoomOpened, RoomClosed)
    assert command_types(Lobby) == (CloseLobby,)

    class Declared(Room):
        emits = (RoomOpened,)

    assert emitted_types(Declared) == (RoomOpened,)


def test_a_cyclic_flow_fails_start_up_naming_the_cycle() -> None:
    catalog = build_catalog(REG, [Room, Lobby], [RoomsCloseLobbies(), LobbiesCloseRooms()])
    with pytest.raises(EventCycleError) as caught:
        catalog.check()
    assert caught.value.cycle == (
        "lobby",
        "t.lobby.Closed",
        "lobbies-close-rooms sends CloseRoom",
        "room",
        "t.room.Closed",
        "rooms-close-lobbies sends CloseLobby",
        "lobby",
    )
    assert "lobby -> t.lobby.Closed -> lobbies-close-rooms sends CloseRoom -> room" in str(
        caught.value
    )


def test_an_allowed_cycle_passes_and_an_acyclic_flow_passes() -> None:
    build_catalog(REG, [Room, Lobby], [RoomsCloseLobbies(), AllowedLoop()]).check()
    build_catalog(REG, [Room, Lobby], [RoomsCloseLobbies()]).check()


def test_a_self_loop_is_a_cycle() -> None:
    class Reopen(ProcessManager):
        name = "reopen"
        handles = (RoomClosed,)
        sends = (CloseRoom,)

    with pytest.raises(
        EventCycleError, match=r"room -> t\.room\.Closed -> reopen sends CloseRoom -> room"
    ):
        build_catalog(REG, [Room], [Reopen()]).check()


def test_declared_dependencies_must_not_loop() -> None:
    class Lobby2(Lobby):
        depends_on = ("room",)

    with pytest.raises(EventCycleError, match="declared depends_on"):
        build_catalog(REG, [Room, Lobby2]).check()


def test_missing_links_are_warned() -> None:
    catalog = build_catalog(REG, [Room, Lobby], [Timeline(), RoomsCloseLobbies(), Strays()])
    assert set(catalog.warnings) == {
        "consumer 'strays' handles 't.orphan.Nobody', which no aggregate emits",
        "event 't.lobby.Closed' (emitted by lobby) is handled by no consumer",
        "process manager 'strays' sends Unrouted, which no aggregate accepts",
        "aggregate 'lobby' takes commands caused by 'room' events (via 'rooms-close-lobbies') "
        "but its depends_on does not list 'room'",
    }
    info = catalog.event("t.room.Opened")
    assert (info.emitted_by, info.handled_by, info.fields) == (
        ("room",),
        ("timeline",),
        ("room_id",),
    )


def test_projections_are_read_through_their_handlers_mapping() -> None:
    class Projectionish:
        name = "by-handlers"
        handlers = {RoomClosed: ()}

    catalog = build_catalog(REG, [Room], [Projectionish()])
    assert catalog.consumers[0].handles == ("t.room.Closed",)
    assert catalog.consumers[0].kind == "projection"


@pytest.mark.parametrize("fmt", ["table", "mermaid", "dot", "json"])
def test_every_format_draws_every_flow(fmt: str) -> None:
    catalog = build_catalog(REG, [Room, Lobby], [Timeline(), RoomsCloseLobbies()])
    text = render(catalog, fmt)
    assert "t.room.Opened" in text
    assert "CloseLobby" in text
    if fmt == "json":
        doc = json.loads(text)
        assert doc["consumers"][1]["sends"] == [{"command": "CloseLobby", "to": ["lobby"]}]
    if fmt == "mermaid":
        assert "agg_room -->|t.room.Closed| con_rooms_close_lobbies" in text
    if fmt == "dot":
        assert (
            '"con:rooms-close-lobbies" -> "agg:lobby" [label="CloseLobby", style=dashed];' in text
        )


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="svg"):
        render(build_catalog(REG), "svg")
