-- ViaWork store, SQLite dialect, version 8: each user's call forwarding and simultaneous
-- ring settings (UCWA callForwardingSettings), as the JSON document the domain layer
-- validated (crate::forwarding); one row per user, removed with the user.
-- Keep in step with migrations/postgres/0008_call_forwarding.sql.

CREATE TABLE call_forwarding (
    user_id    INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    settings   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
