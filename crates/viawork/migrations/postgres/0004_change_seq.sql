-- ViaWork store, PostgreSQL dialect, version 4: a counter that every change to what the
-- server caches (users, policies, routing, dial plans, token revocations) moves forward, so
-- each node of a pool can keep those in memory and notice changes made by the others or by
-- the admin CLI with one cheap read. Bumped by statement-level triggers, so no writer can
-- forget it. A new token is not a change (nothing cached can depend on a token not yet
-- issued); revoking or deleting one is.
-- Keep in step with migrations/sqlite/0004_change_seq.sql.

CREATE TABLE change_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT  NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

CREATE FUNCTION bump_change_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE change_seq SET seq = seq + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_bumps AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_seq();
CREATE TRIGGER policies_bumps AFTER INSERT OR UPDATE OR DELETE ON policies
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_seq();
CREATE TRIGGER routing_bumps AFTER INSERT OR UPDATE OR DELETE ON routing
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_seq();
CREATE TRIGGER dial_plan_rules_bumps AFTER INSERT OR UPDATE OR DELETE ON dial_plan_rules
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_seq();
CREATE TRIGGER tokens_bumps AFTER UPDATE OR DELETE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION bump_change_seq();
