"""``kiroku demo``: the write side on the embedded journal, narrated.

Opens (or creates) its own SQLite journal in ``--data``'s ``demo/`` directory
(never the app's journal beside it: the demo's ``demo.*`` events belong to no
app's registry), runs a handful of chat
rooms through the runtime, and prints what each step did: accepted commands
and where their events landed, a rejection that appends nothing, a retried
command answered from its idempotency key, many rooms written concurrently,
and a fresh runtime recovering the same state from the journal.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import click

from kiroku.cli.app import CliContext, pass_cli
from kiroku.domain.decider import Decider
from kiroku.errors import DomainError, KirokuError
from kiroku.journal.sqlite import SQLiteJournal
from kiroku.journal.sqlite.ownership import claim_journal
from kiroku.runtime import Runtime
from kiroku.schema import Codec, Registry, event

__all__ = ["register"]

_REGISTRY = Registry()
DEMO_DIR = "demo"
DEMO_APP = "kiroku.demo"


@event("demo.RoomOpened", registry=_REGISTRY)
@dataclass(frozen=True, slots=True)
class RoomOpened:
    title: str


@event("demo.MessagePosted", registry=_REGISTRY)
@dataclass(frozen=True, slots=True)
class MessagePosted:
    author: str
    text: str


@dataclass(frozen=True, slots=True)
class OpenRoom:
    title: str


@dataclass(frozen=True, slots=True)
class Post:
    author: str
    text: str


@dataclass(frozen=True, slots=True)
class Room:
    title: str = ""
    messages: tuple[str, ...] = ()


class RoomNotOpenError(DomainError):
    pass


class DemoRoom(Decider[Room, OpenRoom | Post, RoomOpened | MessagePosted]):
    category = "demoroom"
    initial = Room()

    def decide(self, command: OpenRoom | Post, state: Room) -> Sequence[RoomOpened | MessagePosted]:
        if isinstance(command, OpenRoom):
            return [] if state.title else [RoomOpened(command.title)]
        if not state.title:
            raise RoomNotOpenError(f"cannot post {command.text!r}: the room is not open")
        return [MessagePosted(command.author, command.text)]

    def evolve(self, state: Room, event: RoomOpened | MessagePosted) -> Room:
        if isinstance(event, RoomOpened):
            return replace(state, title=event.title)
        return replace(state, messages=(*state.messages, f"{event.author}: {event.text}"))


def register(group: click.Group) -> None:
    group.add_command(demo)


@click.command()
@click.option("--rooms", default=50, show_default=True, help="Rooms written concurrently.")
@pass_cli
def demo(cli: CliContext, rooms: int) -> None:
    """Run a small demonstration of the write side on its own SQLite journal (DATA/demo/)."""
    where = cli.data / DEMO_DIR
    where.mkdir(parents=True, exist_ok=True)
    try:
        asyncio.run(_demo(where / "journal.db", rooms))
    except KirokuError as e:
        raise click.ClickException(str(e)) from e


async def _demo(path: Path, rooms: int) -> None:
    journal = await SQLiteJournal.open(path)
    try:
        await asyncio.to_thread(claim_journal, path, DEMO_APP)
    except BaseException:
        await journal.close()
        raise
    run = uuid.uuid4().hex[:6]
    click.echo(f"journal: {path} (run {run})")
    try:
        async with Runtime(journal, [DemoRoom()], codec=Codec(_REGISTRY)) as runtime:
            await _one_room(runtime, f"{run}-lobby")
            await _many_rooms(runtime, journal, run, rooms)
        async with Runtime(journal, [DemoRoom()], codec=Codec(_REGISTRY)) as fresh:
            room = await fresh.state(DemoRoom, f"{run}-lobby")
            click.echo(f"restart: a new runtime recovered {room.title!r} with {room.messages}")
            first = await fresh.state_at(DemoRoom, f"{run}-lobby", version=2)
            click.echo(f"time travel: at version 2 the room held {first.messages}")
        click.echo(f"the journal now holds events up to position {await journal.head_position()}")
    finally:
        await journal.close()


async def _one_room(runtime: Runtime, ident: str) -> None:
    try:
        await runtime.execute(DemoRoom, ident, Post("ann", "anyone here?"))
    except RoomNotOpenError as e:
        click.echo(f"rejected: {e} (nothing appended)")
    opened = await runtime.execute(DemoRoom, ident, OpenRoom("Lobby"))
    click.echo(f"accepted: OpenRoom -> {opened.stream} v{opened.version} @ {opened.position}")
    for author, text in (("ann", "hello"), ("bob", "hi ann")):
        posted = await runtime.execute(DemoRoom, ident, Post(author, text), idempotency_key=text)
        click.echo(f"accepted: Post {text!r} -> v{posted.version} @ {posted.position}")
    again = await runtime.execute(DemoRoom, ident, Post("bob", "hi ann"), idempotency_key="hi ann")
    click.echo(
        f"retried with the same idempotency key: duplicate={again.duplicate}, "
        f"still v{again.version} @ {again.position}, nothing appended"
    )


async def _many_rooms(runtime: Runtime, journal: SQLiteJournal, run: str, rooms: int) -> None:
    async def chat(n: int) -> int:
        ident = f"{run}-r{n}"
        await runtime.execute(DemoRoom, ident, OpenRoom(f"Room {n}"))
        for i in range(4):
            await runtime.execute(DemoRoom, ident, Post("bot", f"message {i}"))
        return 5

    before = journal.stats
    start = time.perf_counter()
    written = sum(await asyncio.gather(*(chat(n) for n in range(rooms))))
    elapsed = time.perf_counter() - start
    after = journal.stats
    click.echo(
        f"concurrent: {rooms} rooms, {written} events in {elapsed * 1000:.0f} ms "
        f"({written / elapsed:,.0f} events/s, each durable before it was acknowledged); "
        f"group commit wrote {after.appends - before.appends} appends in "
        f"{after.commits - before.commits} transactions"
    )
