-- One collection of JSON documents; ids sort byte-wise, as on SQLite.
CREATE TABLE IF NOT EXISTS {table} (
    id   text  COLLATE "C" PRIMARY KEY,
    doc  jsonb NOT NULL
);
