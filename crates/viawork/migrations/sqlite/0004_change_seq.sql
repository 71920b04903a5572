-- ViaWork store, SQLite dialect, version 4: a counter that every change to what the server
-- caches (users, policies, routing, dial plans, token revocations) moves forward, so a server
-- can keep those in memory and notice changes made by the admin CLI (which writes the file
-- directly) or by another node with one cheap read. Bumped by triggers, so no writer can
-- forget it. A new token is not a change (nothing cached can depend on a token not yet
-- issued); revoking or deleting one is.
-- Keep in step with migrations/postgres/0004_change_seq.sql.

CREATE TABLE change_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO change_seq (id, seq) VALUES (1, 0);

CREATE TRIGGER users_insert_bumps AFTER INSERT ON users
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_bumps AFTER UPDATE ON users
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_bumps AFTER DELETE ON users
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;

CREATE TRIGGER policies_insert_bumps AFTER INSERT ON policies
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER policies_update_bumps AFTER UPDATE ON policies
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER policies_delete_bumps AFTER DELETE ON policies
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;

CREATE TRIGGER routing_insert_bumps AFTER INSERT ON routing
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER routing_update_bumps AFTER UPDATE ON routing
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER routing_delete_bumps AFTER DELETE ON routing
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;

CREATE TRIGGER dial_plan_rules_insert_bumps AFTER INSERT ON dial_plan_rules
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER dial_plan_rules_update_bumps AFTER UPDATE ON dial_plan_rules
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER dial_plan_rules_delete_bumps AFTER DELETE ON dial_plan_rules
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;

CREATE TRIGGER tokens_update_bumps AFTER UPDATE ON tokens
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER tokens_delete_bumps AFTER DELETE ON tokens
BEGIN UPDATE change_seq SET seq = seq + 1 WHERE id = 1; END;
