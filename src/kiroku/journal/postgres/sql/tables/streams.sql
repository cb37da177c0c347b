-- One row per stream: its version (deleted events included, so numbering
-- continues) and the transaction that last wrote it. The row is locked by
-- each append, so writers of one stream queue here and nowhere else.
CREATE TABLE IF NOT EXISTS streams (
    stream  text   PRIMARY KEY,
    version bigint NOT NULL,
    tx      xid8   NOT NULL
);
