-- ViaWork store, SQLite dialect, version 7: instant messaging — conversations, their
-- participants, messages with per-recipient delivery, the link from calls to conversations,
-- and the blob facility that file transfer stores files in.
-- Keep in step with migrations/postgres/0007_conversations.sql.
-- A blob's scope says what it belongs to (`conversation:<id>`), for access checks.
-- Times are unix milliseconds. Messages keep the sender's SIP URI as text, so that history
-- still says who wrote what after a user is removed.

CREATE TABLE blobs (
    id           TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    scope        TEXT    NOT NULL,
    owner_id     INTEGER REFERENCES users (id) ON DELETE SET NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL CHECK (size >= 0),
    sha256       TEXT    NOT NULL,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);

CREATE TABLE conversations (
    id         TEXT    NOT NULL PRIMARY KEY CHECK (id <> ''),
    subject    TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE conversation_participants (
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at       INTEGER NOT NULL,
    left_at         INTEGER,
    PRIMARY KEY (conversation_id, user_id)
);
-- A user's conversations.
CREATE INDEX conversation_participants_user ON conversation_participants (user_id, conversation_id);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    sender_sip_uri  TEXT    NOT NULL,
    format          TEXT    NOT NULL CHECK (format IN ('plain', 'html', 'file')),
    body            TEXT    NOT NULL,
    blob_id         TEXT    REFERENCES blobs (id) ON DELETE SET NULL,
    created_at      INTEGER NOT NULL
);
-- History, paged newest first.
CREATE INDEX messages_conversation ON messages (conversation_id, id);

CREATE TABLE message_deliveries (
    message_id   INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delivered_at INTEGER,
    PRIMARY KEY (message_id, user_id)
);
-- What is still to be delivered to a user when they sign in.
CREATE INDEX message_deliveries_pending ON message_deliveries (user_id, message_id)
    WHERE delivered_at IS NULL;

CREATE TABLE conversation_calls (
    call_id         TEXT    NOT NULL PRIMARY KEY CHECK (call_id <> ''),
    conversation_id TEXT    NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL
);
CREATE INDEX conversation_calls_conversation ON conversation_calls (conversation_id);
