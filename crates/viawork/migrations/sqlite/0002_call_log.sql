-- ViaWork store, SQLite dialect, version 2: the call log, one row per call.
-- Keep in step with migrations/postgres/0002_call_log.sql (same table, columns and rules).
-- Times here are unix milliseconds. owner_sip_uri is stored lower-case and does not
-- reference users: the log outlives the removal of a user.

CREATE TABLE call_log (
    id                   TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    owner_sip_uri        TEXT    NOT NULL CHECK (owner_sip_uri <> ''),
    direction            TEXT    NOT NULL,
    to_text              TEXT    NOT NULL DEFAULT '',
    to_number            TEXT    NOT NULL DEFAULT '',
    callback_number      TEXT    NOT NULL DEFAULT '',
    end_reason           TEXT,
    hung_up_by           TEXT,
    created_at           INTEGER NOT NULL,
    callback_answered_at INTEGER,
    connected_at         INTEGER,
    ended_at             INTEGER,
    callback_sip_call_id TEXT,
    far_sip_call_id      TEXT,
    media_stats          TEXT
);

-- A user's calls, newest first, paged by (created_at, id).
CREATE INDEX call_log_owner_created ON call_log (owner_sip_uri, created_at DESC, id DESC);
-- Everyone's calls, newest first (the admin view and the export).
CREATE INDEX call_log_created ON call_log (created_at DESC, id DESC);
-- The rows still open, closed at startup after a crash.
CREATE INDEX call_log_open ON call_log (id) WHERE ended_at IS NULL;
