-- ViaWork store, SQLite dialect, version 1: the directory, Call Via Work policies and
-- grants, the global routing settings, dial plans, API tokens and login-failure tracking.
-- Keep in step with migrations/postgres/0001_initial.sql (same tables, columns and rules).
-- Booleans are 0/1 integers, times are unix seconds.

CREATE TABLE policies (
    identity                  TEXT    NOT NULL PRIMARY KEY
        CHECK (identity = 'Global'
            OR (substr(identity, 1, 5) = 'Site:' AND length(identity) > 5)
            OR (substr(identity, 1, 4) = 'Tag:' AND length(identity) > 4)),
    enabled                   BOOLEAN NOT NULL DEFAULT 0,
    use_admin_callback_number BOOLEAN NOT NULL DEFAULT 0,
    admin_callback_number     TEXT
);

-- The Global policy always exists; removing it resets it to these defaults.
INSERT INTO policies (identity, enabled, use_admin_callback_number, admin_callback_number)
VALUES ('Global', 0, 0, NULL);

-- AUTOINCREMENT so that the id of a removed user is never handed to someone else.
CREATE TABLE users (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    sip_uri                 TEXT    NOT NULL UNIQUE CHECK (sip_uri <> ''),
    email_key               TEXT    NOT NULL DEFAULT '',
    display_name            TEXT    NOT NULL DEFAULT '',
    email                   TEXT    NOT NULL DEFAULT '',
    title                   TEXT    NOT NULL DEFAULT '',
    department              TEXT    NOT NULL DEFAULT '',
    office                  TEXT    NOT NULL DEFAULT '',
    phone_work              TEXT    NOT NULL DEFAULT '',
    phone_mobile            TEXT    NOT NULL DEFAULT '',
    phone_home              TEXT    NOT NULL DEFAULT '',
    phone_other             TEXT    NOT NULL DEFAULT '',
    line_uri                TEXT    NOT NULL DEFAULT '',
    enterprise_voice        BOOLEAN NOT NULL DEFAULT 0,
    enabled                 BOOLEAN NOT NULL DEFAULT 1,
    role                    TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    password_hash           TEXT    NOT NULL DEFAULT '',
    pin_hash                TEXT,
    ha1_md5                 TEXT,
    ha1_sha256              TEXT,
    sip_realm               TEXT,
    allow_call_forwarding   BOOLEAN NOT NULL DEFAULT 0,
    allow_simultaneous_ring BOOLEAN NOT NULL DEFAULT 0,
    dial_in_conferencing    BOOLEAN NOT NULL DEFAULT 0,
    site                    TEXT,
    policy_grant            TEXT REFERENCES policies (identity) ON DELETE SET NULL
        CHECK (policy_grant IS NULL OR substr(policy_grant, 1, 4) = 'Tag:'),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX users_email_key ON users (email_key);
CREATE INDEX users_policy_grant ON users (policy_grant);

-- A single row (id = 1) of settings that apply to every call.
CREATE TABLE routing (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    call_via_work_caller_id TEXT
);
INSERT INTO routing (id, call_via_work_caller_id) VALUES (1, NULL);

-- Normalisation rules; scope is 'global' or a user id in decimal. Positions are 0..n-1 per
-- scope; the store keeps them dense inside write transactions (SQLite serialises writers).
CREATE TABLE dial_plan_rules (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    scope                 TEXT    NOT NULL,
    position              INTEGER NOT NULL CHECK (position >= 0),
    name                  TEXT    NOT NULL,
    pattern               TEXT    NOT NULL,
    translation           TEXT    NOT NULL,
    is_internal_extension BOOLEAN NOT NULL DEFAULT 0,
    UNIQUE (scope, name)
);
CREATE INDEX dial_plan_rules_scope_position ON dial_plan_rules (scope, position);

-- API/session tokens, stored only as the SHA-256 (hex) of the token.
CREATE TABLE tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked    BOOLEAN NOT NULL DEFAULT 0
);
CREATE INDEX tokens_user_id ON tokens (user_id);
CREATE INDEX tokens_expires_at ON tokens (expires_at);

-- Failed sign-ins per lower-case user name, for lockout.
CREATE TABLE login_failures (
    key              TEXT    NOT NULL PRIMARY KEY,
    failures         INTEGER NOT NULL,
    first_failure_at INTEGER NOT NULL,
    locked_until     INTEGER
);
