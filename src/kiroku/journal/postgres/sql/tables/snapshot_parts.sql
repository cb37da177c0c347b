-- A big snapshot's data, in parts written one transaction each (snapshots.py).
-- The snapshots row says how many parts its version has (parts > 0, its own
-- data then empty); parts of any other version are not in force: a save cut
-- short, or a snapshot since replaced, deleted a few parts at a time.
ALTER TABLE snapshots ADD COLUMN IF NOT EXISTS parts integer NOT NULL DEFAULT 0;

CREATE TABLE IF NOT EXISTS snapshot_parts (
    stream  text    NOT NULL,
    version bigint  NOT NULL,
    part    integer NOT NULL,
    parts   integer NOT NULL,
    data    bytea   NOT NULL,
    PRIMARY KEY (stream, version, part)
);
