-- The last beat of every running kiroku process (``kiroku status``): who it is,
-- its positions and readiness (``beat``), and when it last beat by this
-- server's clock (``beat_at``), so ages do not depend on the machines' clocks.
-- A process stopping gracefully deletes its row; a killed one's row stays and
-- ages, which is how status tells dead from stopped.
CREATE TABLE IF NOT EXISTS heartbeats (
    node    text        PRIMARY KEY,
    beat    jsonb       NOT NULL,
    beat_at timestamptz NOT NULL DEFAULT now()
);
