-- Every event, once. `position` is the public, increasing number; `tx` is the
-- writing transaction's id, which readers use to never pass over an event
-- whose transaction committed after a later-numbered one (docs/journal.md).
CREATE SEQUENCE IF NOT EXISTS events_position AS bigint;

CREATE TABLE IF NOT EXISTS events (
    position       bigint      NOT NULL DEFAULT nextval('events_position'),
    tx             xid8        NOT NULL DEFAULT pg_current_xact_id(),
    stream         text        NOT NULL,
    version        bigint      NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    data           json        NOT NULL,
    event_id       uuid        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    correlation_id text,
    causation_id   text,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT events_pkey PRIMARY KEY (stream, version),
    CONSTRAINT events_position_key UNIQUE (position),
    CONSTRAINT events_event_id_key UNIQUE (event_id)
);

ALTER SEQUENCE events_position OWNED BY events.position;
