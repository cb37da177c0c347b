"""The schemaless document store: CRUD, merge patches, queries, paging and indexes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiroku import DocumentNotFoundError, InputError
from kiroku.projections import ProjectionStore


@pytest.fixture
def store(tmp_path: Path) -> ProjectionStore:
    return ProjectionStore(tmp_path / "read.db", "test.docs")


async def test_put_get_delete_round_trip(store: ProjectionStore) -> None:
    async with store.transaction() as tx:
        col = tx.collection("things")
        await col.put("a", {"n": 1, "tags": ["x"], "nested": {"k": None}})
        assert await col.get("a") == {"n": 1, "tags": ["x"], "nested": {"k": None}}
        assert await col.delete("a") is True
        assert await col.delete("a") is False
        assert await col.get("a") is None


async def test_patch_merges_and_none_removes_a_key(store: ProjectionStore) -> None:
    async with store.transaction() as tx:
        col = tx.collection("things")
        await col.put("a", {"n": 1, "keep": True, "drop": 2, "sub": {"x": 1}})
        await col.patch("a", {"n": 2, "drop": None, "sub": {"y": 2}})
        assert await col.get("a") == {"n": 2, "keep": True, "sub": {"x": 1, "y": 2}}


async def test_patch_of_a_missing_document_raises_unless_upsert(store: ProjectionStore) -> None:
    async with store.transaction() as tx:
        col = tx.collection("things")
        with pytest.raises(DocumentNotFoundError, match=r"'ghost'.*'things'"):
            await col.patch("ghost", {"n": 1})
        await col.patch("ghost", {"n": 1}, upsert=True)
        assert await col.get("ghost") == {"n": 1}


async def test_query_filters_orders_and_pages(store: ProjectionStore) -> None:
    async with store.transaction() as tx:
        col = tx.collection("msgs")
        for i in range(10):
            await col.put(f"m{i}", {"room": "r1" if i % 2 else "r2", "seq": i, "by": {"n": "ann"}})
    reader = store.reader()
    msgs = reader.collection("msgs")
    odd = await msgs.query(where={"room": "r1"}, order_by="seq", descending=True)
    assert [m["seq"] for m in odd] == [9, 7, 5, 3, 1]
    page = await msgs.query(where={"room": "r1"}, order_by="seq", limit=2, offset=1)
    assert [m["seq"] for m in page] == [3, 5]
    late = await msgs.query(filters=[("seq", ">=", 7), ("by.n", "=", "ann")], order_by="seq")
    assert [m["seq"] for m in late] == [7, 8, 9]
    assert await msgs.count(where={"room": "r2"}) == 5
    assert await msgs.query(where={"missing": None}, limit=1) != []


async def test_an_unwritten_collection_reads_as_empty(store: ProjectionStore) -> None:
    reader = store.reader()
    assert await reader.collection("never").get("x") is None
    assert await reader.collection("never").query() == []
    assert await reader.collection("never").count() == 0


async def test_indexed_paths_are_used_by_queries(store: ProjectionStore) -> None:
    store.ensure_indexes({"msgs": [("room", "seq")]})
    plan = store.rows(
        "EXPLAIN QUERY PLAN SELECT doc FROM doc_msgs WHERE json_extract(doc, '$.room') = ? "
        "ORDER BY json_extract(doc, '$.seq')",
        ("r1",),
    )
    assert any("ix_doc_msgs__room__seq" in str(row) for row in plan)


@pytest.mark.parametrize("bad", ["Upper", "has-dash", "1starts", "x; DROP TABLE doc_msgs", ""])
async def test_bad_collection_names_are_refused(store: ProjectionStore, bad: str) -> None:
    async with store.transaction() as tx:
        with pytest.raises(InputError, match="Collection name"):
            tx.collection(bad)


async def test_bad_paths_and_operators_are_refused(store: ProjectionStore) -> None:
    col = store.reader().collection("msgs")
    with pytest.raises(InputError, match="JSON path"):
        await col.query(where={"a') OR 1=1 --": 1})
    with pytest.raises(InputError, match="operator"):
        await col.query(filters=[("seq", "LIKE", "x")])
    with pytest.raises(InputError, match="scalar"):
        await col.query(where={"seq": [1]})


async def test_the_reader_cannot_write(store: ProjectionStore) -> None:
    from kiroku import ReadStoreError

    with pytest.raises(ReadStoreError, match="readonly"):
        await store.reader().query("CREATE TABLE nope (x)")


json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
json_docs = st.dictionaries(
    st.from_regex(r"[a-z]{1,6}", fullmatch=True),
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=6),
    max_size=5,
)


@settings(max_examples=50, deadline=None)
@given(docs=st.dictionaries(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), json_docs))
async def test_every_document_reads_back_as_written(docs: dict[str, dict[str, object]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = ProjectionStore(Path(tmp) / "r.db", "test.docs")
        async with store.transaction() as tx:
            for doc_id, doc in docs.items():
                await tx.collection("d").put(doc_id, doc)  # type: ignore[arg-type]
        col = store.reader().collection("d")
        assert {i: await col.get(i) for i in docs} == docs
        assert await col.ids() == sorted(docs)
        store.close()


async def test_tables_are_created_once_not_in_every_transaction(store: ProjectionStore) -> None:
    """A collection or text index committed once is not declared again: a ``CREATE ...
    IF NOT EXISTS`` is parsed and checked against the schema each time it runs, and a
    runner's batch touched every table it writes."""
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    for n in range(3):
        async with store.transaction() as tx:
            await tx.collection("things").put(f"a{n}", {"n": n})
            await tx.text_index("words").put(f"a{n}", "some words", {})
    created = [s for s in statements if s.lstrip().upper().startswith("CREATE")]
    assert len(created) == 3  # the first transaction's: the collection, the index and its keys
    async with store.transaction() as tx:
        assert await tx.collection("things").ids() == ["a0", "a1", "a2"]
