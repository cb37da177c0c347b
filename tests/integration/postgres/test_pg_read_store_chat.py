"""The chat's four read models on PostgreSQL read stores answer as they do on
SQLite, over a realistic seeded history (with a retraction), and replay after
live equals rebuild there too."""

from __future__ import annotations

from pathlib import Path

import pytest
from kits.chat_history import USERS, conversation
from pgkit import dsn_fixture

from kiroku import Codec, MemoryJournal
from kiroku.apps.chat import app as chat
from kiroku.corrections import RetractionService
from kiroku.projections import Document, ProjectionHost, ReadView
from kiroku.projections.postgres import PostgresReadStores
from kiroku.runtime import Runtime
from kiroku.testing.replay import check_replay_equals_rebuild

pytestmark = pytest.mark.postgres
__all__ = ["dsn_fixture"]

COLLECTIONS = {
    "chat.timeline": ("messages",),
    "chat.rooms": ("rooms", "members", "msgs"),
    "chat.history": ("events",),
}
ROOMS = [f"r{i}" for i in range(4)]
WORDS = ("note", "edited", "ann", "bob", "note 12", "dee edited", "nothing-here")


@pytest.fixture
async def history() -> tuple[MemoryJournal, Codec]:
    journal = MemoryJournal()
    codec = Codec(chat.registry)
    async with Runtime(journal, chat.deciders, codec=codec) as runtime:
        await conversation(runtime, seed=11, steps=500)
    posts = [e for e in await journal.read_all(0, 10_000) if e.type.endswith("MessagePosted")]
    await RetractionService(journal).retract(posts[5].position, reason="test", by="ops")
    return journal, codec


async def _answers(view: ReadView, name: str) -> list[object]:
    """What the Read API asks of each read model, in its order."""
    found: list[object] = []
    for collection in COLLECTIONS.get(name, ()):
        docs = view.collection(collection)
        found.append(await docs.query())
        found.append(await docs.ids())
    if name == "chat.timeline":
        for room in ROOMS:
            messages = view.collection("messages")
            found.append(await messages.query({"room_id": room}, order_by="seq", descending=True))
            found.append(
                await messages.query({"room_id": room}, filters=[("seq", ">", 20)], limit=5)
            )
    if name == "chat.rooms":
        for user in USERS:
            found.append(await view.collection("members").query({"user": user}, order_by="room_id"))
            found.append(
                await view.collection("msgs").count(
                    {"room_id": "r1", "deleted": False}, filters=[("author", "!=", user)]
                )
            )
    if name == "chat.history":
        for room in ROOMS:
            events = view.collection("events")
            found.append(await events.query({"room_id": room}, order_by="version", limit=30))
    if name == "chat.search":
        index = view.text_index("messages")
        for words in WORDS:
            hits: list[Document] = await index.search(words, within={"room_id": ROOMS}, limit=1000)
            found.append(sorted((str(h["room_id"]), str(h["message_id"]), h["text"]) for h in hits))
    return found


async def _built(host: ProjectionHost) -> ProjectionHost:
    await host.catch_up()
    await host.rebuilds.join()  # the retraction calls for rebuilds
    return host


async def test_chat_read_models_answer_the_same_on_postgres_as_on_sqlite(
    history: tuple[MemoryJournal, Codec], dsn: str, tmp_path: Path
) -> None:
    journal, codec = history
    projections = list(chat.projections)
    lite = await _built(ProjectionHost(journal, projections, tmp_path / "lite", codec=codec))
    catalog = PostgresReadStores(dsn)
    pg = await _built(
        ProjectionHost(journal, projections, tmp_path / "pg", codec=codec, catalog=catalog)
    )
    try:
        for name in lite.names:
            assert pg.runner(name).position == lite.runner(name).position
            expected = await _answers(lite.reader(name), name)
            assert await _answers(pg.reader(name), name) == expected, name
            assert any(expected), name
        assert pg.runner("chat.search").store.location.startswith("postgresql:")
        assert catalog.generation("chat.timeline") == 2  # rebuilt for the retraction
    finally:
        await lite.close()
        await pg.close()


async def test_replay_equals_rebuild_on_postgres(
    history: tuple[MemoryJournal, Codec], dsn: str, tmp_path: Path
) -> None:
    journal, codec = history
    head = await journal.head_position()
    compared = await check_replay_equals_rebuild(
        journal,
        chat.projections,
        tmp_path,
        codec=codec,
        starts=(1, head // 2),
        catalog=PostgresReadStores(dsn),
    )
    assert set(compared) == {"chat.history", "chat.rooms", "chat.search", "chat.timeline"}
    assert all(rows > 0 for rows in compared.values())
