-- Revoke a user's token for good, keeping the name as a tombstone: 'ok' or
-- 'missing'. Every node hears of it by NOTIFY at commit and refuses the token.
CREATE OR REPLACE FUNCTION remove_user(p_name text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('kiroku.users.' || current_schema()));
    UPDATE users
       SET token_sha256 = '', removed_at = now(), change = nextval('users_change')
     WHERE name = p_name AND removed_at IS NULL;
    IF NOT FOUND THEN
        RETURN 'missing';
    END IF;
    PERFORM pg_notify('kiroku_users_' || current_schema(), p_name);
    RETURN 'ok';
END
$$;
