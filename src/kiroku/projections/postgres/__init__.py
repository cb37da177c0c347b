"""Read stores on PostgreSQL: one schema per projection and generation.

``PostgresReadStore`` implements ``kiroku.projections.readstore.ReadStore``:
documents in ``jsonb`` with expression indexes, full-text indexes on
``tsvector``, and the bookkeeping in the same schema and transaction.
``PostgresReadStores`` is the catalog a ``ProjectionHost`` takes (``catalog=``):
which generation serves, rebuilt beside it and swapped in one statement.
"""

from kiroku.projections.postgres.catalog import PostgresReadStores
from kiroku.projections.postgres.store import PostgresReadStore, schema_name

__all__ = ["PostgresReadStore", "PostgresReadStores", "schema_name"]
