-- The largest position of a committed event, deleted ones included (0 if none).
CREATE OR REPLACE FUNCTION head_position()
RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT greatest(
        (SELECT max(e.position) FROM events e),
        (SELECT max(d.position) FROM deleted_events d),
        0)
$$;
