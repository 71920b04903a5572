-- ViaWork store, SQLite dialect, version 10: meeting recordings (WAV files in
-- meetings.recordings_dir; the rows say whose they are and who may hear them).
-- Keep in step with migrations/postgres/0010_recordings.sql.

-- A recording. `viewers` is the JSON list of SIP URIs allowed to list and download it,
-- fixed when it started (the organizer, leaders, attendees and those present), so that
-- access survives the meeting being changed or deleted. `file` is the name inside the
-- recordings directory. It goes with the organizer.
CREATE TABLE recordings (
    id           TEXT    NOT NULL PRIMARY KEY,
    meeting_id   TEXT    NOT NULL,
    organizer_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    subject      TEXT    NOT NULL,
    viewers      TEXT    NOT NULL,
    file         TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    duration_ms  INTEGER NOT NULL,
    bytes        INTEGER NOT NULL
);
CREATE INDEX recordings_meeting ON recordings (meeting_id, started_at);
CREATE INDEX recordings_started ON recordings (started_at);
