"""The read-store contract: what every ReadStore backend must do the same way.

A backend subclasses ``ReadStoreContract`` and provides a ``store_factory``
fixture: a callable that opens the store of a projection by name; calling it
again opens *the same* store (another connection, as another process would)::

    class TestSQLiteReadStore(ReadStoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path: Path) -> StoreFactory:
            return lambda name: ProjectionStore(tmp_path / f"{name}.db", name)

The concerns: documents (paths, filters, nulls, order, merge patches), text
indexes, transactions (all or nothing, readers see commits only), a
projection's own portable SQL, and ``data_version`` (another process's commit
is noticed, one's own is not).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from kiroku.domain.envelope import JSON
from kiroku.errors import DocumentNotFoundError, InputError
from kiroku.projections.postgres import PostgresReadStore, schema_name
from kiroku.projections.readstore import ReadStore, ReadView
from kiroku.projections.store import ProjectionStore

__all__ = ["ReadStoreContract", "StoreFactory", "open_postgres", "open_sqlite"]

StoreFactory = Callable[[str], ReadStore]


def open_sqlite(path: str, name: str) -> ReadStore:
    return ProjectionStore(path, name)


def open_postgres(dsn: str, name: str) -> ReadStore:
    """A projection's first generation on the database at ``dsn``."""
    return PostgresReadStore(dsn, name, schema=schema_name(name, 1))


DOCS: dict[str, dict[str, JSON]] = {
    "a": {"room": "r1", "seq": 2, "author": {"name": "ann"}, "deleted": False},
    "b": {"room": "r1", "seq": 10, "author": {"name": "bob"}, "deleted": True},
    "c": {"room": "r2", "seq": 1, "author": {"name": "cy"}, "deleted": False, "tag": None},
    "d": {"room": "r2", "seq": 7, "author": {"name": "ann"}, "deleted": False},
}


class ReadStoreContract:
    @pytest.fixture(autouse=True)
    def _views(self) -> Iterator[None]:
        self.opened: list[ReadView] = []
        yield
        for view in self.opened:
            view.close()

    def reader(self, store: ReadStore) -> ReadView:
        view = store.reader()
        self.opened.append(view)
        return view

    @pytest.fixture
    async def store(self, store_factory: StoreFactory) -> AsyncIterator[ReadStore]:
        store = store_factory("contract.store")
        store.ensure_indexes({"docs": ["room", ("room", "seq")]})
        async with store.transaction(1) as tx:
            for key, doc in DOCS.items():
                await tx.collection("docs").put(key, doc)
        yield store
        store.close()

    # -- documents -------------------------------------------------------------

    async def test_get_returns_what_put_stored_and_none_for_a_missing_id(
        self, store: ReadStore
    ) -> None:
        docs = self.reader(store).collection("docs")
        assert await docs.get("a") == DOCS["a"]
        assert await docs.get("zz") is None
        assert await self.reader(store).collection("never_written").query() == []

    async def test_query_filters_on_paths_and_orders_with_ids_breaking_ties(
        self, store: ReadStore
    ) -> None:
        docs = self.reader(store).collection("docs")
        found = await docs.query({"room": "r1"}, order_by="seq", descending=True)
        assert [d["seq"] for d in found] == [10, 2]
        anns = await docs.query({"author.name": "ann"}, filters=[("seq", ">=", 2)])
        assert [d["seq"] for d in anns] == [2, 7]  # ordered by id without order_by
        assert await docs.count({"deleted": False}, filters=[("seq", "<", 7)]) == 2
        assert await docs.ids() == ["a", "b", "c", "d"]
        paged = await docs.query(order_by=["room", "seq"], limit=2, offset=1)
        assert [d["seq"] for d in paged] == [10, 1]

    async def test_a_missing_path_and_a_json_null_are_both_null(self, store: ReadStore) -> None:
        docs = self.reader(store).collection("docs")
        assert await docs.ids() == ["a", "b", "c", "d"]
        assert await docs.count({"tag": None}) == 4
        assert await docs.count(filters=[("tag", "!=", "x")]) == 0  # null compares false
        first = await docs.query(order_by="tag")
        assert len(first) == 4

    async def test_bad_names_paths_and_operators_are_refused(self, store: ReadStore) -> None:
        docs = self.reader(store).collection("docs")
        with pytest.raises(InputError):
            await docs.query({"a;drop": 1})
        with pytest.raises(InputError):
            await docs.query(filters=[("seq", "~", 1)])
        with pytest.raises(InputError):
            self.reader(store).collection("Bad-Name")

    async def test_patch_merges_removes_nulls_and_refuses_a_missing_document(
        self, store: ReadStore
    ) -> None:
        async with store.transaction(2) as tx:
            docs = tx.collection("docs")
            await docs.patch("a", {"author": {"nick": "a1"}, "deleted": None, "seq": 3})
            await docs.patch("new", {"x": {"y": 1, "z": None}}, upsert=True)
            with pytest.raises(DocumentNotFoundError):
                await docs.patch("nope", {"x": 1})
            assert await docs.get("a") == {
                "room": "r1", "seq": 3, "author": {"name": "ann", "nick": "a1"},
            }  # fmt: skip
        assert await self.reader(store).collection("docs").get("new") == {"x": {"y": 1}}

    async def test_put_replaces_and_delete_removes(self, store: ReadStore) -> None:
        async with store.transaction(2) as tx:
            docs = tx.collection("docs")
            await docs.put("a", {"room": "r9"})
            assert await docs.get("a") == {"room": "r9"}  # a held write is read back
            assert await docs.delete("b") is True
            assert await docs.delete("b") is False
            assert await docs.count({"room": "r9"}) == 1
        reader = self.reader(store).collection("docs")
        assert await reader.ids() == ["a", "c", "d"]

    # -- transactions -----------------------------------------------------------

    async def test_a_failed_transaction_leaves_nothing(self, store: ReadStore) -> None:
        async def failing() -> None:
            async with store.transaction(2) as tx:
                await tx.collection("docs").put("e", {"room": "r3"})
                await tx.collection("docs").delete("a")
                await tx.text_index("words").put("e", "lost words", {})
                raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await failing()
        reader = self.reader(store)
        assert await reader.collection("docs").ids() == ["a", "b", "c", "d"]
        assert await reader.text_index("words").search("lost") == []

    async def test_a_collection_first_made_in_a_failed_transaction_can_be_made_again(
        self, store: ReadStore
    ) -> None:
        async def failing() -> None:
            async with store.transaction(2) as tx:
                await tx.collection("fresh").put("x", {"n": 1})
                await tx.text_index("fresh").put("x", "some words", {})
                raise ValueError("boom")

        with pytest.raises(ValueError, match="boom"):
            await failing()
        async with store.transaction(2) as tx:
            await tx.collection("fresh").put("y", {"n": 2})
            await tx.text_index("fresh").put("y", "other words", {})
        view = self.reader(store)
        assert await view.collection("fresh").ids() == ["y"]
        assert [f["text"] for f in await view.text_index("fresh").search("words")] == [
            "other words"
        ]

    async def test_readers_see_only_committed_changes(self, store: ReadStore) -> None:
        reader = self.reader(store).collection("docs")
        async with store.transaction(2) as tx:
            await tx.collection("docs").put("e", {"room": "r3"})
            tx.flush()
            assert await reader.get("e") is None
        assert await reader.get("e") == {"room": "r3"}

    async def test_own_sql_with_portable_statements(self, store: ReadStore) -> None:
        async with store.transaction(2) as tx:
            await tx.execute(
                "CREATE TABLE IF NOT EXISTS counts (k TEXT PRIMARY KEY, n INTEGER NOT NULL)"
            )
            upsert = (
                "INSERT INTO counts(k, n) VALUES (?, ?)"
                " ON CONFLICT(k) DO UPDATE SET n = counts.n + excluded.n"
            )
            await tx.executemany(upsert, [("x", 1), ("y", 2), ("x", 3)])
            assert await tx.execute("SELECT n FROM counts WHERE k = ?", ("x",)) == [(4,)]
        rows = await self.reader(store).query(
            "SELECT k, n FROM counts WHERE n > ? ORDER BY k", (0,)
        )
        assert rows == [("x", 4), ("y", 2)]

    async def test_another_process_commit_changes_data_version_and_its_own_does_not(
        self, store: ReadStore, store_factory: StoreFactory
    ) -> None:
        before = store.data_version()
        async with store.transaction(2) as tx:
            await tx.collection("docs").put("e", {})
        assert store.data_version() == before
        other = store_factory("contract.store")
        async with other.transaction(3) as tx:
            await tx.collection("docs").put("f", {})
        assert store.data_version() != before
        other.close()

    # -- text indexes -------------------------------------------------------------

    async def test_text_search_needs_every_word_and_honours_within(self, store: ReadStore) -> None:
        async with store.transaction(2) as tx:
            words = tx.text_index("words")
            await words.put("m1", "Lunch at noon", {"room": "r1", "who": "ann"})
            await words.put("m2", "lunch tomorrow?", {"room": "r2", "who": "bob"})
            await words.put("m3", "Dinner at eight", {"room": "r1", "who": "cy"})
        words_view = self.reader(store).text_index("words")
        found = await words_view.search("LUNCH")
        assert sorted(str(f["who"]) for f in found) == ["ann", "bob"]
        assert await words_view.search("lunch noon") == [
            {"room": "r1", "who": "ann", "text": "Lunch at noon"}
        ]
        within = await words_view.search("lunch", within={"room": ["r2"]})
        assert [f["who"] for f in within] == ["bob"]
        assert await words_view.search("lunch", within={"room": []}) == []
        assert await words_view.search('"at" OR * NEAR(') == []  # words, never syntax
        assert len(await words_view.search("at", limit=1)) == 1

    async def test_text_entries_are_replaced_edited_and_removed_by_key(
        self, store: ReadStore
    ) -> None:
        async with store.transaction(2) as tx:
            words = tx.text_index("words")
            await words.put("m1", "first words", {"n": 1})
            await words.put("m1", "second words", {"n": 2})
            assert await words.set_text("m1", "third words") is True
            assert await words.set_text("zz", "nothing") is False
            await words.put("m2", "other words", {"n": 3})
            assert await words.delete("m2") is True
            assert await words.delete("m2") is False
        view = self.reader(store).text_index("words")
        assert await view.search("words") == [{"n": 2, "text": "third words"}]
        assert await view.search("second") == []
