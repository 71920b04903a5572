-- ViaWork store, SQLite dialect, version 5: each user's contact list and contact groups
-- (UCWA myContacts / myGroups). A contact is a directory user or an outside phone number
-- (tel: URI); it may be in several of its owner's groups, and one in none is shown in the
-- virtual "Other Contacts" group. Everything goes with its owner (ON DELETE CASCADE), and a
-- removed directory user leaves every contact list they were on.
-- Not counted by change_seq: nothing caches contact lists. Also a change counter of the
-- users alone (users_seq), for the people search index.
-- Keep in step with migrations/postgres/0005_contacts.sql.

CREATE TABLE contact_groups (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL CHECK (name <> ''),
    -- The name in lower case: names are unique per owner whatever their case.
    name_key   TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (owner_id, name_key)
);

-- Exactly one of user_id (a directory user) and tel (a tel: URI) is set.
CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    tel        TEXT,
    name       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    CHECK ((user_id IS NULL) <> (tel IS NULL)),
    UNIQUE (owner_id, user_id),
    UNIQUE (owner_id, tel)
);
-- Removing a user deletes the contacts that name them: find those by user.
CREATE INDEX contacts_user_id ON contacts (user_id);

CREATE TABLE contact_group_members (
    group_id   INTEGER NOT NULL REFERENCES contact_groups (id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, contact_id)
);
CREATE INDEX contact_group_members_contact_id ON contact_group_members (contact_id);

-- The users' own change counter, bumped by triggers on every insert, update and delete of
-- a user (whoever writes: the server, the CLI, raw SQL). People search reloads its index
-- when this moves, not on every move of change_seq (a sign-out revokes a token and moves
-- change_seq too).
CREATE TABLE users_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO users_seq (id, seq) VALUES (1, 0);

CREATE TRIGGER users_insert_bumps_users_seq AFTER INSERT ON users
BEGIN UPDATE users_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER users_update_bumps_users_seq AFTER UPDATE ON users
BEGIN UPDATE users_seq SET seq = seq + 1 WHERE id = 1; END;
CREATE TRIGGER users_delete_bumps_users_seq AFTER DELETE ON users
BEGIN UPDATE users_seq SET seq = seq + 1 WHERE id = 1; END;
