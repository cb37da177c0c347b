-- One full-text index: the text, its tsvector ('simple': no stemming, no stop
-- words, as SQLite's unicode61) kept by PostgreSQL, and the entry's fields.
CREATE TABLE IF NOT EXISTS {table} (
    key     text  COLLATE "C" PRIMARY KEY,
    text    text  NOT NULL,
    fields  jsonb NOT NULL,
    tsv     tsvector GENERATED ALWAYS AS (to_tsvector('simple', text)) STORED
);
CREATE INDEX IF NOT EXISTS {table}_tsv ON {table} USING gin (tsv);
