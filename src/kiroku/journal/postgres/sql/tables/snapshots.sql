-- The latest snapshot of each stream (saving one replaces the previous).
CREATE TABLE IF NOT EXISTS snapshots (
    stream        text        PRIMARY KEY,
    version       bigint      NOT NULL,
    state_type    text        NOT NULL,
    state_version integer     NOT NULL,
    data          bytea       NOT NULL,
    taken_at      timestamptz NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}'
);
