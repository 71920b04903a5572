-- ViaWork store, SQLite dialect, version 9: meetings (scheduled and Meet Now, UCWA
-- myOnlineMeetings) and the dial-in PIN lockout counters (Set-CsPinPolicy).
-- Keep in step with migrations/postgres/0009_meetings.sql.

-- A meeting. `settings` is the JSON document crate::meetings validated (attendees,
-- leaders, access level, lobby and announcement settings); the columns are what the store
-- looks meetings up by. The conference ID is what dial-in callers type, unique across all
-- meetings; a meeting goes with its organizer.
CREATE TABLE meetings (
    id            TEXT    NOT NULL PRIMARY KEY,
    organizer_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    conference_id TEXT    NOT NULL UNIQUE,
    subject       TEXT    NOT NULL,
    description   TEXT    NOT NULL,
    starts_at     INTEGER,
    ends_at       INTEGER,
    expires_at    INTEGER NOT NULL,
    ad_hoc        BOOLEAN NOT NULL,
    settings      TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX meetings_organizer ON meetings (organizer_id, starts_at);
CREATE INDEX meetings_expires ON meetings (expires_at);

-- Failed dial-in PIN attempts of a user: the current 30-minute window (local limit, an
-- hour's lockout when reached) and the count since the last success or admin unlock
-- (global limit, which locks until an admin unlocks).
CREATE TABLE pin_lockouts (
    user_id        INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    window_start   INTEGER NOT NULL,
    window_failures INTEGER NOT NULL,
    total_failures INTEGER NOT NULL,
    locked_until   INTEGER,
    locked_out     BOOLEAN NOT NULL,
    updated_at     INTEGER NOT NULL
);
