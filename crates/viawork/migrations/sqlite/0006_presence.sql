-- ViaWork store, SQLite dialect, version 6: what presence keeps across restarts — the
-- availability a user chose (NULL: automatic) and their note, and the people each user
-- blocks (who then see them as Offline). Everything else about presence (endpoints,
-- calls, idleness, subscriptions) is live state and lives in memory.
-- Keep in step with migrations/postgres/0006_presence.sql.

CREATE TABLE presence_settings (
    user_id      INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    availability TEXT CHECK (availability IS NULL OR availability IN
        ('Online', 'Busy', 'DoNotDisturb', 'BeRightBack', 'Away', 'Offwork')),
    note         TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);

CREATE TABLE presence_blocks (
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, blocked_user_id),
    CHECK (user_id <> blocked_user_id)
);
-- The cascade when a blocked user is removed.
CREATE INDEX presence_blocks_blocked ON presence_blocks (blocked_user_id);
