-- One append: check the expected version (-1 = any), write the events with
-- gapless versions, advance the stream. Outcomes instead of exceptions for the
-- expected cases, so a batch of appends needs no savepoint unless a constraint
-- breaks:
--   ok             written; new_version, first_position, last_position are set
--   wrong_version  the stream is at new_version, not at _expected
--   retry          the stream was last written by a transaction with a larger
--                  id than ours: writing after it would make readers, who go
--                  in transaction-id order, see the stream's events out of
--                  order. Run it again in a new transaction (which has a larger id).
CREATE OR REPLACE FUNCTION append_events(
    _stream          text,
    _expected        bigint,
    _types           text[],
    _schema_versions integer[],
    _data            text[],
    _event_ids       uuid[],
    _occurred_at     timestamptz[],
    _correlation_ids text[],
    _causation_ids   text[],
    _metadata        jsonb[],
    OUT outcome        text,
    OUT new_version    bigint,
    OUT first_position bigint,
    OUT last_position  bigint,
    OUT detail         text
)
LANGUAGE plpgsql AS $$
DECLARE
    _current bigint;
    _last_tx xid8;
    _me      xid8 := pg_current_xact_id();
BEGIN
    SELECT s.version, s.tx INTO _current, _last_tx
      FROM streams s WHERE s.stream = _stream FOR UPDATE;
    _current := coalesce(_current, 0);
    IF _expected >= 0 AND _current <> _expected THEN
        outcome := 'wrong_version';
        new_version := _current;
        RETURN;
    END IF;
    IF _last_tx > _me THEN
        outcome := 'retry';
        detail := format('stream %s was last written by transaction %s, after %s', _stream, _last_tx, _me);
        RETURN;
    END IF;

    WITH inserted AS (
        INSERT INTO events (stream, version, type, schema_version, data, event_id,
                            occurred_at, correlation_id, causation_id, metadata)
        SELECT _stream, _current + e.n, e.type, e.schema_version, e.data::json, e.event_id,
               e.occurred_at, e.correlation_id, e.causation_id, e.metadata
          FROM unnest(_types, _schema_versions, _data, _event_ids, _occurred_at,
                      _correlation_ids, _causation_ids, _metadata)
               WITH ORDINALITY AS e(type, schema_version, data, event_id, occurred_at,
                                    correlation_id, causation_id, metadata, n)
         ORDER BY e.n
        RETURNING events.position
    )
    SELECT min(i.position), max(i.position) INTO first_position, last_position FROM inserted i;

    new_version := _current + cardinality(_types);
    INSERT INTO streams AS s (stream, version, tx) VALUES (_stream, new_version, _me)
        ON CONFLICT (stream) DO UPDATE SET version = EXCLUDED.version, tx = EXCLUDED.tx;
    outcome := 'ok';
END
$$;
