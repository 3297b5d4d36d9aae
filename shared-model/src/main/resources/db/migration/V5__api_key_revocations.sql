-- A revoked (or deleted) key is announced on the channel api_key_revocations with the key's public
-- id as payload, whoever revokes it (the gateway's admin API, ./fleet keys revoke, plain SQL): a
-- gateway that keeps checked keys in memory drops that key when the notification arrives.

CREATE FUNCTION api_keys_announce_revocation() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('api_key_revocations', OLD.id);
        RETURN OLD;
    END IF;
    IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
        PERFORM pg_notify('api_key_revocations', NEW.id);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER api_keys_revocation
    AFTER UPDATE OF revoked_at OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION api_keys_announce_revocation();
