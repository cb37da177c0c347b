-- What `delete_before` leaves of an event: where it stood. A subscriber whose
-- cursor is a deleted position resumes exactly after it, and positions are
-- never reused (the head never goes backwards).
CREATE TABLE IF NOT EXISTS deleted_events (
    position bigint PRIMARY KEY,
    tx       xid8   NOT NULL
);
