-- Delete a stream's events below a version, keeping where each stood
-- (deleted_events) so cursors and the head stay exact. Returns how many.
CREATE OR REPLACE FUNCTION delete_before(_stream text, _version bigint)
RETURNS bigint
LANGUAGE sql AS $$
    WITH gone AS (
        DELETE FROM events e WHERE e.stream = _stream AND e.version < _version
        RETURNING e.position, e.tx
    ), kept AS (
        INSERT INTO deleted_events (position, tx) SELECT g.position, g.tx FROM gone g
        RETURNING 1
    )
    SELECT count(*) FROM kept
$$;
