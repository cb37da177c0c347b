-- A public position as a reader's cursor: the (tx, position) of the event at
-- that position, deleted or not. For a position that names no event (a rolled
-- back transaction's gap) the last event before it stands in. No row: start.
CREATE OR REPLACE FUNCTION cursor_at(_position bigint, OUT tx xid8, OUT "position" bigint)
LANGUAGE sql STABLE AS $$
    SELECT c.tx, c.position FROM (
        (SELECT e.tx, e.position FROM events e
          WHERE e.position <= _position ORDER BY e.position DESC LIMIT 1)
        UNION ALL
        (SELECT d.tx, d.position FROM deleted_events d
          WHERE d.position <= _position ORDER BY d.position DESC LIMIT 1)
    ) c
    ORDER BY c.position DESC
    LIMIT 1
$$;
