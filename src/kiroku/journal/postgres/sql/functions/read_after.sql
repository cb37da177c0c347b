-- Events after the cursor (_tx, _position), in (tx, position) order, only from
-- transactions older than every transaction still running. Those have all
-- finished, so nothing can later appear before the last row returned: a
-- reader may wait here, it never skips.
CREATE OR REPLACE FUNCTION read_after(_tx xid8, _position bigint, _limit integer)
RETURNS SETOF events
LANGUAGE sql STABLE AS $$
    SELECT e.*
      FROM events e
     WHERE (e.tx, e.position) > (_tx, _position)
       AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY e.tx, e.position
     LIMIT _limit
$$;
