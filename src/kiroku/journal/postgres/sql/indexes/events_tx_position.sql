-- The subscribers' order: (tx, position), read from a cursor on both.
CREATE INDEX IF NOT EXISTS events_tx_position_idx ON events (tx, position);
