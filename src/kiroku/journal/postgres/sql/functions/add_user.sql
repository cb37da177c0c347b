-- Create a user, or say why not: 'ok', 'exists', or 'removed <when>' (a removed
-- name is never issued again). Every node hears of it by NOTIFY at commit.
CREATE OR REPLACE FUNCTION add_user(p_name text, p_token_sha256 text, p_admin boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    old users%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('kiroku.users.' || current_schema()));
    SELECT * INTO old FROM users WHERE name = p_name;
    IF FOUND AND old.removed_at IS NOT NULL THEN
        RETURN 'removed ' || old.removed_at;
    ELSIF FOUND THEN
        RETURN 'exists';
    END IF;
    INSERT INTO users (name, token_sha256, admin) VALUES (p_name, p_token_sha256, p_admin);
    PERFORM pg_notify('kiroku_users_' || current_schema(), p_name);
    RETURN 'ok';
END
$$;
