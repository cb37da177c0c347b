-- What holds readers back: the oldest transaction still running (or prepared)
-- and how many committed events wait behind it. A long or idle-in-transaction
-- writer shows up here as a growing age.
CREATE OR REPLACE FUNCTION horizon(
    OUT xmin xid8,
    OUT waiting_events bigint,
    OUT oldest_age_seconds double precision
)
LANGUAGE sql STABLE AS $$
    SELECT h.xmin,
           (SELECT count(*) FROM events e WHERE e.tx >= h.xmin),
           coalesce(extract(epoch FROM now() - least(
               (SELECT min(a.xact_start) FROM pg_stat_activity a
                 WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()),
               (SELECT min(p.prepared) FROM pg_prepared_xacts p))), 0)::double precision
      FROM (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin) h
$$;
