-- Many appends in one transaction (group commit), in order, each checked
-- against the version its stream has after the ones before it. The events of
-- all appends come flattened; _counts says how many belong to each.
--
-- With _isolate, each append runs in its own subtransaction (a savepoint), so
-- a broken constraint fails that append alone:
--   duplicate  an event id already in the journal (detail names it)
--   retry      another transaction wrote the same stream version first
--   invalid    data that is not JSON (detail says why)
-- Without it the first broken constraint aborts the batch; the writer then
-- runs the batch again isolated. Isolating always would cost a subtransaction
-- id per append, and more than 64 of them in one transaction slow down every
-- other session's snapshots.
CREATE OR REPLACE FUNCTION append_batch(
    _streams         text[],
    _expected        bigint[],
    _counts          integer[],
    _isolate         boolean,
    _types           text[],
    _schema_versions integer[],
    _data            text[],
    _event_ids       uuid[],
    _occurred_at     timestamptz[],
    _correlation_ids text[],
    _causation_ids   text[],
    _metadata        jsonb[]
)
RETURNS TABLE (
    outcome        text,
    new_version    bigint,
    first_position bigint,
    last_position  bigint,
    detail         text
)
LANGUAGE plpgsql AS $$
DECLARE
    _lo         integer := 1;
    _hi         integer;
    _constraint text;
BEGIN
    FOR _i IN 1 .. coalesce(cardinality(_streams), 0) LOOP
        _hi := _lo + _counts[_i] - 1;
        IF _isolate THEN
            BEGIN
                SELECT a.* INTO outcome, new_version, first_position, last_position, detail
                  FROM append_events(_streams[_i], _expected[_i], _types[_lo:_hi],
                                     _schema_versions[_lo:_hi], _data[_lo:_hi],
                                     _event_ids[_lo:_hi], _occurred_at[_lo:_hi],
                                     _correlation_ids[_lo:_hi], _causation_ids[_lo:_hi],
                                     _metadata[_lo:_hi]) a;
            EXCEPTION WHEN unique_violation THEN
                GET STACKED DIAGNOSTICS _constraint = CONSTRAINT_NAME, detail = PG_EXCEPTION_DETAIL;
                outcome := CASE WHEN _constraint = 'events_event_id_key' THEN 'duplicate' ELSE 'retry' END;
                new_version := NULL;
                first_position := NULL;
                last_position := NULL;
            WHEN data_exception THEN
                outcome := 'invalid';
                detail := SQLERRM;
                new_version := NULL;
                first_position := NULL;
                last_position := NULL;
            END;
        ELSE
            SELECT a.* INTO outcome, new_version, first_position, last_position, detail
              FROM append_events(_streams[_i], _expected[_i], _types[_lo:_hi],
                                 _schema_versions[_lo:_hi], _data[_lo:_hi],
                                 _event_ids[_lo:_hi], _occurred_at[_lo:_hi],
                                 _correlation_ids[_lo:_hi], _causation_ids[_lo:_hi],
                                 _metadata[_lo:_hi]) a;
        END IF;
        RETURN NEXT;
        _lo := _hi + 1;
    END LOOP;
END
$$;
