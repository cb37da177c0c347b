"""Read stores on PostgreSQL: one schema per projection and generation.

``PostgresReadStore`` implements ``kiroku.projections.readstore.ReadStore``:
documents in ``jsonb`` with expression indexes, full-text indexes on
``tsvector``, and the bookkeeping in the same schema and transaction.
"""

from kiroku.projections.postgres.store import PostgresReadStore, schema_name

__all__ = ["PostgresReadStore", "schema_name"]
