-- The users who may call the HTTP API, and SHA-256 of their tokens (never the
-- tokens). Shared by every node on this database, so a revocation is seen by
-- all of them at once. A removed user keeps its row (no token, removed_at set):
-- a removed name is never issued again. ``change`` orders every change; the
-- functions that change a row take one lock, so changes commit in that order
-- and ``max(change)`` never moves back past a change not yet seen.
CREATE SEQUENCE IF NOT EXISTS users_change;

CREATE TABLE IF NOT EXISTS users (
    name         text        PRIMARY KEY,
    token_sha256 text        NOT NULL DEFAULT '',
    admin        boolean     NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    removed_at   timestamptz,
    change       bigint      NOT NULL DEFAULT nextval('users_change')
);

CREATE UNIQUE INDEX IF NOT EXISTS users_by_token ON users (token_sha256)
    WHERE removed_at IS NULL;

CREATE INDEX IF NOT EXISTS users_by_change ON users (change);
