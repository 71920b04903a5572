//! The store: everything ViaWork keeps between restarts, behind one [`Store`] trait with two
//! backends — an embedded SQLite file (the default: one node serving a site) and PostgreSQL
//! (a pool of nodes sharing one database).
//!
//! Open one with [`open`] and share it as `Arc<dyn Store>`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), viawork::store::StoreError> {
//! let store = viawork::store::open("sqlite://viawork.db").await?;
//! let global = store.get_policy("Global").await?;
//! # Ok(()) }
//! ```
//!
//! The store persists *rows* ([`model`]): plain strings, integers and flags. The domain layer
//! validates and normalises before it writes and builds its types after it reads; the store
//! only keeps the schema's integrity (unique SIP URIs, grants that name an existing `Tag:`
//! policy, ordered dial plans) and reports failures as [`StoreError`] values a caller can act
//! on. Every write that touches more than one row is one transaction.
//!
//! # Why sqlx
//! sqlx speaks both SQLite and PostgreSQL natively and asynchronously on tokio, with one
//! query/bind/row API, so one body of SQL and Rust (`sql.rs`) serves both backends — the SQL
//! uses only syntax the two dialects share (`$1` parameters, `ON CONFLICT`, `RETURNING`).
//! We build it without its macros: queries are checked by the integration tests against both
//! real databases rather than by a database at compile time, and the migrations are embedded
//! with `include_str!` (see `migrate.rs`).
//!
//! # Files
//! - `model.rs` — the row structs (the directory, policies, dial plans, tokens, the call log)
//!   and token hashing.
//! - `error.rs` — [`StoreError`] and how driver errors map to it.
//! - `check.rs` — integrity checks made before writing, identical for both backends.
//! - `migrate.rs` — the embedded per-dialect migrations and the rules for applying them.
//! - `sql.rs` — the shared SQL and the [`Store`] implementation generated from it.
//! - `sqlite.rs`, `postgres.rs` — connecting, pooling and transaction start per backend.

mod check;
mod error;
pub mod im;
mod migrate;
pub mod model;
mod postgres;
mod sql;
mod sqlite;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use error::StoreError;
pub use im::{BlobRow, ConversationRow, MessageRow, ParticipantRow};
pub use model::{
    generate_token, hash_token, CallLogQuery, CallRecordRow, ContactGroupRow, ContactRow,
    ContactTarget, DialPlanRuleRow, ImportReport, ImportRowResult, LockoutPolicy, LoginFailureRow,
    MeetingRow, PinLockoutRow, PolicyRemoval, PolicyRow, PresenceBlockRow, PresenceSettingsRow,
    RecordingRow, RoutingRow, TokenRow, UserRow, UsersVersion, CALL_LOG_MAX_LIMIT, GLOBAL_POLICY,
    GLOBAL_SCOPE,
};

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// Opens the store at `url` and brings its schema up to date.
///
/// - `sqlite://PATH` (also `sqlite:PATH`): the file is created if missing (with its parent
///   directory), runs in WAL mode with a busy timeout so that the CLI and the server can use
///   it at once, and enforces foreign keys. `sqlite:///var/lib/viawork/viawork.db` is
///   absolute, `sqlite://viawork.db` relative to the working directory; PATH is taken
///   literally (no `?options`). `sqlite::memory:` is a private in-memory database, for tests.
/// - `postgres://...` or `postgresql://...`: a connection pool (at most 10 connections).
///
/// Fails with [`StoreError::Invalid`] (field `url`) for another scheme or a malformed URL,
/// [`StoreError::Unavailable`] if the database cannot be reached and
/// [`StoreError::Migration`] if the schema cannot be brought up to date.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        Err(StoreError::invalid(
            "url",
            "must start with sqlite:// or postgres://",
        ))
    }
}

/// The current time in unix seconds (0 if the clock is before 1970).
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The current time in unix milliseconds (0 if the clock is before 1970).
pub(crate) fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Everything ViaWork persists. Implemented for SQLite and PostgreSQL; obtained from [`open`].
///
/// Reads of one row return `Ok(None)` when it does not exist; writes that need a row return
/// [`StoreError::NotFound`]. Times the store sets itself (`created_at`, `updated_at`) come from
/// the system clock; times that decide validity (`now` for tokens and lockout) are passed in.
#[async_trait]
pub trait Store: Send + Sync {
    /// The database this store runs on.
    fn backend(&self) -> Backend;

    /// Checks that the database answers (for `/healthz`).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Closes the connections; later calls fail with [`StoreError::Unavailable`].
    async fn close(&self);

    // ---- users ---------------------------------------------------------------------------

    /// Creates a user. `id`, `created_at` and `updated_at` of `user` are ignored and assigned;
    /// `sip_uri` is stored lower-case. A taken SIP URI (in any case) is
    /// [`StoreError::Conflict`] on `sip_uri`; a grant of a missing policy is
    /// [`StoreError::NotFound`] `policy`.
    async fn create_user(&self, user: &UserRow) -> Result<UserRow, StoreError>;

    /// The user with this id.
    async fn get_user(&self, id: i64) -> Result<Option<UserRow>, StoreError>;

    /// The user with this SIP URI (compared case-insensitively).
    async fn get_user_by_sip_uri(&self, sip_uri: &str) -> Result<Option<UserRow>, StoreError>;

    /// The user with this email (compared case-insensitively); emails are not unique, so this
    /// is the one with the lowest id. An empty email finds nobody.
    async fn get_user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError>;

    /// Up to `limit` users ordered by SIP URI, starting after the SIP URI `after` (keyset
    /// paging: pass the last SIP URI of the previous page).
    async fn list_users(&self, after: Option<&str>, limit: u32)
        -> Result<Vec<UserRow>, StoreError>;

    /// How many users there are.
    async fn count_users(&self) -> Result<i64, StoreError>;

    /// Replaces the user `user.id` with `user` (all fields but `id` and `created_at`), if its
    /// `updated_at` is still `user.updated_at`; returns the stored row with the new
    /// `updated_at`. A row changed meanwhile is [`StoreError::Conflict`] on `updated_at`.
    async fn update_user(&self, user: &UserRow) -> Result<UserRow, StoreError>;

    /// Removes a user with their tokens and personal dial plan.
    async fn remove_user(&self, id: i64) -> Result<(), StoreError>;

    /// Creates many users in one transaction. With `all_or_nothing`, one failed row rolls all
    /// back (the good rows report [`ImportRowResult::RolledBack`]); otherwise the good rows
    /// are kept. Refused rows report their error; a connection failure fails the whole call.
    async fn import_users(
        &self,
        rows: &[UserRow],
        all_or_nothing: bool,
    ) -> Result<ImportReport, StoreError>;

    // ---- Call Via Work policies and grants ------------------------------------------------

    /// All policies: `Global` first, then `Site:` and `Tag:` policies by identity.
    async fn list_policies(&self) -> Result<Vec<PolicyRow>, StoreError>;

    /// The policy with this identity (exact match).
    async fn get_policy(&self, identity: &str) -> Result<Option<PolicyRow>, StoreError>;

    /// Creates a `Site:` or `Tag:` policy. `Global` (which always exists) or a taken identity
    /// is [`StoreError::Conflict`] on `identity`.
    async fn create_policy(&self, policy: &PolicyRow) -> Result<PolicyRow, StoreError>;

    /// Replaces the settings of the policy `policy.identity`.
    async fn update_policy(&self, policy: &PolicyRow) -> Result<PolicyRow, StoreError>;

    /// Removes a policy, clearing the grants of the users who hold it in the same
    /// transaction. `Global` is reset to its defaults (disabled, no admin callback number)
    /// instead.
    async fn remove_policy(&self, identity: &str) -> Result<PolicyRemoval, StoreError>;

    /// Grants the `Tag:` policy `identity` to a user, or clears their grant with `None`;
    /// returns the updated user. An unknown user or policy is [`StoreError::NotFound`].
    async fn set_policy_grant(
        &self,
        user_id: i64,
        identity: Option<&str>,
    ) -> Result<UserRow, StoreError>;

    // ---- routing ---------------------------------------------------------------------------

    /// The global routing settings.
    async fn get_routing(&self) -> Result<RoutingRow, StoreError>;

    /// Replaces the global routing settings.
    async fn set_routing(&self, routing: &RoutingRow) -> Result<(), StoreError>;

    // ---- dial plans ------------------------------------------------------------------------

    /// The rules of `scope` ([`GLOBAL_SCOPE`] or a user id in decimal) in order.
    async fn list_dial_plan_rules(&self, scope: &str) -> Result<Vec<DialPlanRuleRow>, StoreError>;

    /// Inserts a rule at `rule.position` of `rule.scope` (or at the end when the position is
    /// past it), shifting the rules from there down by one; returns it with its id and
    /// actual position. A taken name in the scope is [`StoreError::Conflict`] on `name`; an
    /// unknown user scope is [`StoreError::NotFound`] `user`. Writers of one scope are
    /// serialised.
    async fn insert_dial_plan_rule(
        &self,
        rule: &DialPlanRuleRow,
    ) -> Result<DialPlanRuleRow, StoreError>;

    /// Removes a rule and closes the gap it leaves in its scope.
    async fn remove_dial_plan_rule(&self, id: i64) -> Result<(), StoreError>;

    // ---- tokens ----------------------------------------------------------------------------

    /// Stores a token (already hashed, see [`hash_token`]).
    async fn insert_token(&self, token: &TokenRow) -> Result<(), StoreError>;

    /// The token with this hash if it is neither revoked nor expired at `now`.
    async fn find_valid_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<TokenRow>, StoreError>;

    /// Revokes one token.
    async fn revoke_token(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Revokes every token of a user; returns how many were still unrevoked.
    async fn revoke_user_tokens(&self, user_id: i64) -> Result<u64, StoreError>;

    /// Deletes the tokens that expired at or before `now`; returns how many.
    async fn purge_expired_tokens(&self, now: i64) -> Result<u64, StoreError>;

    // ---- login failures --------------------------------------------------------------------

    /// Counts a failed sign-in for `key` (a user name, compared lower-case) at `now`, starting
    /// a new count when the previous window has passed, and locks the name once the count
    /// reaches `policy.max_failures`. Atomic; returns the updated row.
    async fn record_login_failure(
        &self,
        key: &str,
        now: i64,
        policy: &LockoutPolicy,
    ) -> Result<LoginFailureRow, StoreError>;

    /// The failures recorded for `key`.
    async fn get_login_failure(&self, key: &str) -> Result<Option<LoginFailureRow>, StoreError>;

    /// Forgets the failures of `key` (after a successful sign-in, or by an administrator).
    async fn reset_login_failures(&self, key: &str) -> Result<(), StoreError>;

    // ---- call log --------------------------------------------------------------------------

    /// Inserts each row, or updates the row with the same id, in one transaction for the
    /// batch. A row that already ended is never reopened: a later write of it without
    /// `ended_at` (a late "still live" update) is ignored. A row the store refuses
    /// ([`StoreError::Invalid`] naming the field) fails the whole batch.
    async fn upsert_call_records(&self, rows: &[CallRecordRow]) -> Result<(), StoreError>;

    /// Closes the rows still open (`ended_at` is NULL) as `end_reason` `failed`,
    /// `hung_up_by` `system`, `ended_at` = `now_ms`; returns how many. Used at startup, for
    /// the calls a crash or restart cut off.
    async fn close_open_call_records(&self, now_ms: i64) -> Result<u64, StoreError>;

    /// The rows matching `q`, newest first (`created_at` then `id`, descending), at most
    /// `q.limit`. A limit outside 1 to [`CALL_LOG_MAX_LIMIT`] is [`StoreError::Invalid`] on
    /// `limit`.
    async fn list_call_records(&self, q: &CallLogQuery) -> Result<Vec<CallRecordRow>, StoreError>;

    // ---- change counter --------------------------------------------------------------------

    /// A number that moves forward with every committed change to users, policies, routing,
    /// dial plans and token revocations, whoever made it (this server, another node of a
    /// pool, the admin CLI writing the file). Caches of those keep the value they were
    /// filled at and reload when it differs; it is one indexed read of one row.
    async fn change_seq(&self) -> Result<i64, StoreError>;

    // ---- instant messaging -------------------------------------------------------------------

    /// Creates a conversation with these participants (user ids, joined at `conv.created_at`)
    /// in one transaction. A taken id is [`StoreError::Conflict`] on `id`; an unknown user
    /// is [`StoreError::NotFound`] `user`.
    async fn create_conversation(
        &self,
        conv: &ConversationRow,
        participants: &[i64],
    ) -> Result<ConversationRow, StoreError>;

    /// The conversation with this id.
    async fn get_conversation(&self, id: &str) -> Result<Option<ConversationRow>, StoreError>;

    /// The most recently active conversation of exactly these two users in which both are
    /// still joined (a 1:1 conversation to continue), if there is one.
    async fn find_pair_conversation(
        &self,
        a: i64,
        b: i64,
    ) -> Result<Option<ConversationRow>, StoreError>;

    /// Everyone who ever joined the conversation (those who left have `left_at`), in the
    /// order they first joined.
    async fn list_participants(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<ParticipantRow>, StoreError>;

    /// The conversations `user_id` is in (and has not left), most recently changed first,
    /// at most `limit` (1 to [`im::MESSAGES_MAX_LIMIT`]).
    async fn list_user_conversations(
        &self,
        user_id: i64,
        limit: u32,
    ) -> Result<Vec<ConversationRow>, StoreError>;

    /// Adds `user_id` to the conversation (again, if they had left) when `joined`, or marks
    /// them as having left at `now`; touches the conversation's `updated_at`. Returns whether
    /// anything changed. An unknown conversation or user is [`StoreError::NotFound`].
    async fn set_participant(
        &self,
        conversation_id: &str,
        user_id: i64,
        joined: bool,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Stores a message (its `id` is assigned) with a pending delivery for each of
    /// `recipients`, and touches the conversation's `updated_at`, in one transaction.
    async fn insert_message(
        &self,
        msg: &MessageRow,
        recipients: &[i64],
    ) -> Result<MessageRow, StoreError>;

    /// A page of history, newest first: at most `limit` (1 to [`im::MESSAGES_MAX_LIMIT`])
    /// messages with ids below `before` (all with `None`).
    async fn list_messages(
        &self,
        conversation_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError>;

    /// Marks the delivery of a message to a user done at `now`; false if it already was
    /// (or there is none).
    async fn mark_delivered(
        &self,
        message_id: i64,
        user_id: i64,
        now: i64,
    ) -> Result<bool, StoreError>;

    /// Marks many deliveries (`(message_id, user_id)`) done at `now`, in one transaction;
    /// those already done stay as they were.
    async fn mark_delivered_many(&self, marks: &[(i64, i64)], now: i64) -> Result<(), StoreError>;

    /// The messages still to be delivered to `user_id`, oldest first, at most `limit`.
    async fn pending_messages(
        &self,
        user_id: i64,
        limit: u32,
    ) -> Result<Vec<MessageRow>, StoreError>;

    /// Links a call to a conversation (idempotent for the same pair). A call already linked
    /// to another conversation is [`StoreError::Conflict`] on `call_id`.
    async fn link_call(
        &self,
        call_id: &str,
        conversation_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    /// The conversation a call is linked to.
    async fn conversation_of_call(&self, call_id: &str) -> Result<Option<String>, StoreError>;

    /// The calls linked to a conversation, oldest first.
    async fn calls_of_conversation(&self, conversation_id: &str)
        -> Result<Vec<String>, StoreError>;

    /// Stores a blob. A taken id is [`StoreError::Conflict`] on `id`.
    async fn put_blob(&self, blob: &BlobRow) -> Result<(), StoreError>;

    /// The blob with this id, with its data.
    async fn get_blob(&self, id: &str) -> Result<Option<BlobRow>, StoreError>;

    // ---- presence --------------------------------------------------------------------------

    /// What presence keeps of a user; None when they never set anything.
    async fn get_presence_settings(
        &self,
        user_id: i64,
    ) -> Result<Option<PresenceSettingsRow>, StoreError>;

    /// Writes (inserts or replaces) a user's presence settings; returns the stored row with
    /// its `updated_at`. An unknown user is [`StoreError::NotFound`] `user`; an availability
    /// outside the settable ones is [`StoreError::Invalid`] on `availability`.
    async fn set_presence_settings(
        &self,
        row: &PresenceSettingsRow,
    ) -> Result<PresenceSettingsRow, StoreError>;

    /// The people `user_id` blocks, by SIP URI.
    async fn list_presence_blocks(&self, user_id: i64)
        -> Result<Vec<PresenceBlockRow>, StoreError>;

    /// `user_id` blocks `blocked_user_id`; returns false when it already did. An unknown user
    /// is [`StoreError::NotFound`] `user`; blocking oneself is [`StoreError::Invalid`] on
    /// `uri`.
    async fn add_presence_block(
        &self,
        user_id: i64,
        blocked_user_id: i64,
    ) -> Result<bool, StoreError>;

    /// `user_id` no longer blocks `blocked_user_id`; returns false when it did not.
    async fn remove_presence_block(
        &self,
        user_id: i64,
        blocked_user_id: i64,
    ) -> Result<bool, StoreError>;

    // ---- call forwarding -------------------------------------------------------------------

    /// A user's call forwarding settings (the validated JSON document) and when they were
    /// last set; `None` when never set (forwarding off).
    async fn get_call_forwarding(&self, user_id: i64) -> Result<Option<(String, i64)>, StoreError>;

    /// Replaces a user's call forwarding settings. An unknown user is
    /// [`StoreError::NotFound`] `user`.
    async fn set_call_forwarding(
        &self,
        user_id: i64,
        settings: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    // ---- people: the users' counter, contacts and groups (migration 5) --------------------

    /// The users' own change counter; one indexed read. People search reads it when
    /// [`Store::change_seq`] moved, to reload only when users (not tokens or policies)
    /// changed.
    async fn users_version(&self) -> Result<UsersVersion, StoreError>;

    /// The contact list of `owner_id`, oldest first, with each contact's groups.
    async fn list_contacts(&self, owner_id: i64) -> Result<Vec<ContactRow>, StoreError>;

    /// How many contacts `owner_id` has.
    async fn count_contacts(&self, owner_id: i64) -> Result<i64, StoreError>;

    /// Adds a contact to the list of `owner_id`, in the groups `groups` (in one
    /// transaction). `name` is kept for phone contacts. A contact already on the list is
    /// [`StoreError::Conflict`] on `uri`; a missing user or owner is
    /// [`StoreError::NotFound`] `user`; a group that is not the owner's is
    /// [`StoreError::NotFound`] `group` (and nothing is added).
    async fn add_contact(
        &self,
        owner_id: i64,
        target: &ContactTarget,
        name: &str,
        groups: &[i64],
    ) -> Result<ContactRow, StoreError>;

    /// Removes the contact `uri` (a user's SIP URI or a `tel:` URI, as listed) from the list
    /// of `owner_id`, and from its groups. [`StoreError::NotFound`] `contact` if not there.
    async fn remove_contact(&self, owner_id: i64, uri: &str) -> Result<(), StoreError>;

    /// The contact groups of `owner_id`, oldest first.
    async fn list_contact_groups(&self, owner_id: i64) -> Result<Vec<ContactGroupRow>, StoreError>;

    /// Creates a group. A name the owner already uses (in any case) is
    /// [`StoreError::Conflict`] on `name`; an empty name is [`StoreError::Invalid`].
    async fn create_contact_group(
        &self,
        owner_id: i64,
        name: &str,
    ) -> Result<ContactGroupRow, StoreError>;

    /// Renames a group of `owner_id`: [`StoreError::NotFound`] `group` if it is not theirs,
    /// [`StoreError::Conflict`] on `name` if they use the name already.
    async fn rename_contact_group(
        &self,
        owner_id: i64,
        group_id: i64,
        name: &str,
    ) -> Result<ContactGroupRow, StoreError>;

    /// Removes a group of `owner_id`; its contacts stay on the list (those in no other group
    /// are then in "Other Contacts"). [`StoreError::NotFound`] `group` if it is not theirs.
    async fn remove_contact_group(&self, owner_id: i64, group_id: i64) -> Result<(), StoreError>;

    /// Puts the contact `uri` of `owner_id` in their group `group_id`; already there is
    /// fine. [`StoreError::NotFound`] `group` or `contact` if either is not theirs.
    async fn add_contact_to_group(
        &self,
        owner_id: i64,
        group_id: i64,
        uri: &str,
    ) -> Result<(), StoreError>;

    /// Takes the contact `uri` out of the group `group_id` of `owner_id` (it stays on the
    /// list). [`StoreError::NotFound`] `group`, `contact`, or `membership` when it was not
    /// in the group.
    async fn remove_contact_from_group(
        &self,
        owner_id: i64,
        group_id: i64,
        uri: &str,
    ) -> Result<(), StoreError>;

    // ---- meetings and dial-in PIN lockout (migration 9) ---------------------------------

    /// Stores a new meeting. [`StoreError::Conflict`] on `conference_id` when the ID is taken
    /// (the caller draws another) or on `id`; [`StoreError::NotFound`] `user` for an unknown
    /// organizer.
    async fn create_meeting(&self, meeting: &MeetingRow) -> Result<(), StoreError>;

    /// A meeting by its id.
    async fn get_meeting(&self, id: &str) -> Result<Option<MeetingRow>, StoreError>;

    /// A meeting by the conference ID dial-in callers type.
    async fn get_meeting_by_conference_id(
        &self,
        conference_id: &str,
    ) -> Result<Option<MeetingRow>, StoreError>;

    /// The meetings `organizer_id` organizes, soonest first (Meet Now last), at most `limit`.
    async fn list_meetings(
        &self,
        organizer_id: i64,
        limit: i64,
    ) -> Result<Vec<MeetingRow>, StoreError>;

    /// How many meetings `organizer_id` has (the per-organizer limit).
    async fn count_meetings(&self, organizer_id: i64) -> Result<i64, StoreError>;

    /// Rewrites the subject, description, times, expiry and settings of a meeting if its
    /// `updated_at` is still `expected_updated_at`: false if the meeting is gone,
    /// [`StoreError::Conflict`] on `updated_at` if it changed meanwhile.
    async fn update_meeting(
        &self,
        meeting: &MeetingRow,
        expected_updated_at: i64,
    ) -> Result<bool, StoreError>;

    /// Deletes a meeting; false if there was none.
    async fn delete_meeting(&self, id: &str) -> Result<bool, StoreError>;

    /// Deletes the meetings that expired before `now`; how many.
    async fn delete_expired_meetings(&self, now: i64) -> Result<u64, StoreError>;

    /// A user's failed dial-in PIN attempts, if any are recorded.
    async fn get_pin_lockout(&self, user_id: i64) -> Result<Option<PinLockoutRow>, StoreError>;

    /// Records a user's PIN attempt counters (`None` forgets them: a success or an unlock).
    async fn set_pin_lockout(
        &self,
        user_id: i64,
        row: Option<&PinLockoutRow>,
        now: i64,
    ) -> Result<(), StoreError>;

    // ---- dial plans: changing a rule in place ----------------------------------------------

    /// Replaces the rule `id` with `rule` in one write: the old rule is removed and `rule`
    /// inserted at `rule.position` of the same scope (or at the end when past it), so a
    /// renamed, rewritten or moved rule is never missing nor doubled, even to a concurrent
    /// reader. `rule.scope` must be the old rule's ([`StoreError::Invalid`] on `scope`); an
    /// unknown id is [`StoreError::NotFound`] `dial plan rule`; a name taken by another rule
    /// of the scope is [`StoreError::Conflict`] on `name`, and nothing changes.
    async fn replace_dial_plan_rule(
        &self,
        id: i64,
        rule: &DialPlanRuleRow,
    ) -> Result<DialPlanRuleRow, StoreError>;

    // ---- meeting recordings (migration 10) ---------------------------------------------

    /// Stores a recording that just started.
    async fn create_recording(&self, row: &RecordingRow) -> Result<(), StoreError>;

    /// Records that a recording stopped: its end, length and size. False if it is gone.
    async fn finish_recording(
        &self,
        id: &str,
        ended_at: i64,
        duration_ms: i64,
        bytes: i64,
    ) -> Result<bool, StoreError>;

    /// A recording by id.
    async fn get_recording(&self, id: &str) -> Result<Option<RecordingRow>, StoreError>;

    /// The recordings of a meeting, oldest first.
    async fn list_recordings(&self, meeting_id: &str) -> Result<Vec<RecordingRow>, StoreError>;

    /// Deletes a recording's row; false if there was none.
    async fn delete_recording(&self, id: &str) -> Result<bool, StoreError>;

    /// Recordings that started before `before` (retention), at most `limit`.
    async fn recordings_started_before(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RecordingRow>, StoreError>;
}
