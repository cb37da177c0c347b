-- RFC 7386 JSON merge patch, as SQLite's json_patch: objects merge key by key,
-- a null removes the key, anything else replaces.
CREATE OR REPLACE FUNCTION kiroku_merge_patch(target jsonb, patch jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    result jsonb;
    k text;
    v jsonb;
BEGIN
    IF jsonb_typeof(patch) IS DISTINCT FROM 'object' THEN
        RETURN patch;
    END IF;
    result := CASE WHEN jsonb_typeof(target) = 'object' THEN target ELSE '{}'::jsonb END;
    FOR k, v IN SELECT key, value FROM jsonb_each(patch) LOOP
        IF v = 'null'::jsonb THEN
            result := result - k;
        ELSE
            result := jsonb_set(result, ARRAY[k], kiroku_merge_patch(result -> k, v));
        END IF;
    END LOOP;
    RETURN result;
END
$$;
