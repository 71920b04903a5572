//! The rows the store reads and writes: plain persistence structs of strings, integers and
//! flags, one per table.
//!
//! They carry no invariants beyond what the schema enforces; the domain layer parses and
//! validates (SIP URIs, E.164 numbers, policy identities) before it hands a row to the store,
//! and turns rows back into its types after reading. Times are unix seconds, except in the
//! call log ([`CallRecordRow`]), whose times are unix milliseconds.

use std::fmt;

use sha2::{Digest, Sha256};

/// The identity of the policy that always exists.
pub const GLOBAL_POLICY: &str = "Global";

/// The dial-plan scope of rules that apply to everyone.
pub const GLOBAL_SCOPE: &str = "global";

/// A person in the directory (table `users`).
///
/// `Debug` hides the password, PIN and digest hashes.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct UserRow {
    /// Assigned by the store on create; never reused.
    pub id: i64,
    /// `sip:alice@example.com`; unique, stored lower-case.
    pub sip_uri: String,
    /// The name shown to others.
    pub display_name: String,
    /// Email address; looked up case-insensitively, not unique.
    pub email: String,
    /// Job title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Office.
    pub office: String,
    /// Work phone number.
    pub phone_work: String,
    /// Mobile phone number.
    pub phone_mobile: String,
    /// Home phone number.
    pub phone_home: String,
    /// Another phone number.
    pub phone_other: String,
    /// The user's PBX number, e.g. `tel:+14255550101;ext=101`.
    pub line_uri: String,
    /// Allowed to make and receive phone calls through ViaWork.
    pub enterprise_voice: bool,
    /// A disabled user cannot sign in.
    pub enabled: bool,
    /// `"user"` or `"admin"`.
    pub role: String,
    /// Web password, an argon2 PHC string.
    pub password_hash: String,
    /// Hash of the dial-in PIN.
    pub pin_hash: Option<String>,
    /// SIP digest HA1 (MD5) for `sip_realm`.
    pub ha1_md5: Option<String>,
    /// SIP digest HA1 (SHA-256) for `sip_realm`.
    pub ha1_sha256: Option<String>,
    /// The realm the HA1 values were computed for.
    pub sip_realm: Option<String>,
    /// May forward calls.
    pub allow_call_forwarding: bool,
    /// May use simultaneous ring.
    pub allow_simultaneous_ring: bool,
    /// Has dial-in conferencing.
    pub dial_in_conferencing: bool,
    /// The site the user belongs to (selects a `Site:` policy).
    pub site: Option<String>,
    /// The granted `Tag:` policy identity, if any.
    pub policy_grant: Option<String>,
    /// When the row was created; set by the store.
    pub created_at: i64,
    /// When the row last changed; set by the store and used for optimistic updates.
    pub updated_at: i64,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn hidden(v: &Option<String>) -> Option<&'static str> {
            v.as_ref().map(|_| "<hidden>")
        }
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("sip_uri", &self.sip_uri)
            .field("display_name", &self.display_name)
            .field("email", &self.email)
            .field("title", &self.title)
            .field("department", &self.department)
            .field("office", &self.office)
            .field("phone_work", &self.phone_work)
            .field("phone_mobile", &self.phone_mobile)
            .field("phone_home", &self.phone_home)
            .field("phone_other", &self.phone_other)
            .field("line_uri", &self.line_uri)
            .field("enterprise_voice", &self.enterprise_voice)
            .field("enabled", &self.enabled)
            .field("role", &self.role)
            .field("password_hash", &"<hidden>")
            .field("pin_hash", &hidden(&self.pin_hash))
            .field("ha1_md5", &hidden(&self.ha1_md5))
            .field("ha1_sha256", &hidden(&self.ha1_sha256))
            .field("sip_realm", &self.sip_realm)
            .field("allow_call_forwarding", &self.allow_call_forwarding)
            .field("allow_simultaneous_ring", &self.allow_simultaneous_ring)
            .field("dial_in_conferencing", &self.dial_in_conferencing)
            .field("site", &self.site)
            .field("policy_grant", &self.policy_grant)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish()
    }
}

/// A Call Via Work policy (table `policies`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PolicyRow {
    /// `Global`, `Site:Name` or `Tag:Name`; unique.
    pub identity: String,
    /// Call Via Work is allowed.
    pub enabled: bool,
    /// Ring `admin_callback_number` instead of a number the user chooses.
    pub use_admin_callback_number: bool,
    /// The callback number set by the administrator.
    pub admin_callback_number: Option<String>,
    /// A user-chosen callback number may be abroad (ViaWork extension; migration 3).
    pub allow_international_callback: bool,
    /// A user-chosen callback number may be premium-rate (ViaWork extension; migration 3).
    pub allow_premium_callback: bool,
}

/// What [`Store::remove_policy`](super::Store::remove_policy) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyRemoval {
    /// The policy was deleted; `grants_cleared` users held it and now hold none.
    Removed {
        /// How many users lost the grant.
        grants_cleared: u64,
    },
    /// The policy was `Global`, which was reset to its defaults instead.
    Reset,
}

/// The global routing settings (table `routing`, a single row).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingRow {
    /// The number shown on the callback leg (`CallViaWorkCallerId`).
    pub call_via_work_caller_id: Option<String>,
}

/// One dial-plan normalisation rule (table `dial_plan_rules`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DialPlanRuleRow {
    /// Assigned by the store on insert.
    pub id: i64,
    /// [`GLOBAL_SCOPE`] or a user id in decimal.
    pub scope: String,
    /// 0-based place in the scope's ordered list.
    pub position: i64,
    /// Rule name, unique within the scope.
    pub name: String,
    /// The regular expression matched against what the user typed.
    pub pattern: String,
    /// The replacement (`$1`-style) producing the normalised number.
    pub translation: String,
    /// The result is an internal extension rather than an E.164 number.
    pub is_internal_extension: bool,
}

/// An API/session token (table `tokens`); only its SHA-256 is stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenRow {
    /// SHA-256 of the token, lower-case hex (see [`hash_token`]).
    pub token_hash: String,
    /// The user the token signs in.
    pub user_id: i64,
    /// When it was issued.
    pub created_at: i64,
    /// It is valid while `now < expires_at`.
    pub expires_at: i64,
    /// Revoked tokens are never valid again.
    pub revoked: bool,
}

/// One call in the call log (table `call_log`). Times are unix milliseconds.
///
/// The call service writes the row when the call starts and again as it changes and ends
/// ([`Store::upsert_call_records`](super::Store::upsert_call_records)); the store keeps the
/// values as given (only `owner_sip_uri` is lower-cased) and never reopens a row that ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallRecordRow {
    /// The call id (32 lower-case hex digits); the primary key.
    pub id: String,
    /// The SIP URI of the user who placed it; stored lower-case.
    pub owner_sip_uri: String,
    /// `"outbound"` (Call Via Work); later `"inbound"`, `"desk_phone"`.
    pub direction: String,
    /// What the user asked to call, as they wrote it.
    pub to_text: String,
    /// The dialled number (E.164) or extension.
    pub to_number: String,
    /// The E.164 number the user's phone was rung on.
    pub callback_number: String,
    /// `None` while live; else `completed`, `cancelled`, `your_phone_busy`, ... (snake_case).
    pub end_reason: Option<String>,
    /// `None` while live; else `user`, `your_phone`, `far_end` or `system`.
    pub hung_up_by: Option<String>,
    /// When the call was placed.
    pub created_at: i64,
    /// When the user's phone answered the callback.
    pub callback_answered_at: Option<i64>,
    /// When the far end answered and the two legs were joined.
    pub connected_at: Option<i64>,
    /// When the call ended; `None` while live.
    pub ended_at: Option<i64>,
    /// The SIP Call-ID of the leg to the user's phone.
    pub callback_sip_call_id: Option<String>,
    /// The SIP Call-ID of the leg to the far end.
    pub far_sip_call_id: Option<String>,
    /// Per-leg media statistics as JSON text; opaque to the store.
    pub media_stats: Option<String>,
}

/// Which call-log rows [`Store::list_call_records`](super::Store::list_call_records) returns;
/// every filter that is set must match. Rows come newest first (`created_at` then `id`,
/// both descending).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallLogQuery {
    /// Only the calls of this owner (compared case-insensitively).
    pub owner: Option<String>,
    /// Keyset cursor: only rows strictly after `(created_at, id)` in the newest-first order,
    /// i.e. the last row of the previous page.
    pub before: Option<(i64, String)>,
    /// Only rows with `created_at >= since` (unix ms).
    pub since: Option<i64>,
    /// Only rows with `created_at < until` (unix ms).
    pub until: Option<i64>,
    /// Only rows that ended for this reason.
    pub end_reason: Option<String>,
    /// At most this many rows, 1 to [`CALL_LOG_MAX_LIMIT`].
    pub limit: u32,
}

/// The most rows one [`CallLogQuery`] may ask for.
pub const CALL_LOG_MAX_LIMIT: u32 = 1000;

/// Failed sign-ins for one user name (table `login_failures`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginFailureRow {
    /// The user name, lower-case.
    pub key: String,
    /// Failures counted in the current window.
    pub failures: i64,
    /// When the current window began.
    pub first_failure_at: i64,
    /// Sign-in is refused while `now < locked_until`.
    pub locked_until: Option<i64>,
}

/// How [`Store::record_login_failure`](super::Store::record_login_failure) counts and locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within the window that lock the name.
    pub max_failures: i64,
    /// Length of the counting window; a failure after it starts a new count.
    pub window_secs: i64,
    /// How long a lock lasts.
    pub lock_secs: i64,
}

/// The outcome of one row of [`Store::import_users`](super::Store::import_users).
#[derive(Debug)]
pub enum ImportRowResult {
    /// The user was created with this id.
    Created {
        /// The new user's id.
        id: i64,
    },
    /// The row was fine but not kept, because another row failed in all-or-nothing mode.
    RolledBack,
    /// The row was refused.
    Failed(super::StoreError),
}

/// The outcome of [`Store::import_users`](super::Store::import_users).
#[derive(Debug)]
pub struct ImportReport {
    /// Whether anything was written.
    pub committed: bool,
    /// One result per input row, in input order.
    pub rows: Vec<ImportRowResult>,
}

impl ImportReport {
    /// How many users were created.
    pub fn created(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r, ImportRowResult::Created { .. }))
            .count()
    }

    /// How many rows were refused.
    pub fn failed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| matches!(r, ImportRowResult::Failed(_)))
            .count()
    }
}

/// The SHA-256 of a token as lower-case hex: what [`TokenRow::token_hash`] holds.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new random token: 32 bytes from a cryptographically secure generator (rand's
/// `ThreadRng`, seeded by the operating system), as 64 hex digits.
pub fn generate_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// `bytes` as lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What presence keeps of one user (table `presence_settings`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceSettingsRow {
    /// The user.
    pub user_id: i64,
    /// The availability they chose (`Online`, `Busy`, `DoNotDisturb`, `BeRightBack`,
    /// `Away`, `Offwork`), or None for automatic.
    pub availability: Option<String>,
    /// Their note (empty: none).
    pub note: String,
    /// When it was last written (set by the store).
    pub updated_at: i64,
}

/// One person a user blocks (table `presence_blocks`, joined with `users`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresenceBlockRow {
    /// The blocked user.
    pub blocked_user_id: i64,
    /// Their SIP URI.
    pub blocked_sip_uri: String,
    /// When the block was made (unix seconds).
    pub created_at: i64,
}

/// The users' own change counter (table `users_seq`, migration 5): moves forward with every
/// insert, update and delete of a user, by triggers, whoever writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UsersVersion {
    /// The counter.
    pub seq: i64,
}

/// Who a contact is (table `contacts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactTarget {
    /// A directory user, by id.
    User(i64),
    /// An outside number, as a `tel:` URI in its bare form (`tel:+14255550199`).
    Phone(String),
}

/// A contact on a user's list (tables `contacts` and `contact_group_members`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRow {
    /// Assigned by the store.
    pub id: i64,
    /// The user whose list this is.
    pub owner_id: i64,
    /// The directory user, for a user contact.
    pub user_id: Option<i64>,
    /// The user's SIP URI, or the `tel:` URI of a phone contact.
    pub uri: String,
    /// The name the owner gave a phone contact (empty for user contacts).
    pub name: String,
    /// The ids of the owner's groups the contact is in, ascending (empty: "Other Contacts").
    pub groups: Vec<i64>,
    /// When it was added.
    pub created_at: i64,
}

/// A contact group of a user (table `contact_groups`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactGroupRow {
    /// Assigned by the store.
    pub id: i64,
    /// The user whose group this is.
    pub owner_id: i64,
    /// The name, unique per owner whatever its case.
    pub name: String,
    /// When it was created.
    pub created_at: i64,
}

/// A meeting (table `meetings`, migration 9); [`crate::meetings`] gives it meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingRow {
    /// Random, URL-safe; part of the join URL.
    pub id: String,
    /// The organizer's user id.
    pub organizer_id: i64,
    /// The organizer's SIP URI (read from `users`; ignored on writes).
    pub organizer: String,
    /// Digits dial-in callers type; unique across meetings.
    pub conference_id: String,
    /// Subject line.
    pub subject: String,
    /// Longer description.
    pub description: String,
    /// Scheduled start (Unix ms); `None` for Meet Now.
    pub starts_at: Option<i64>,
    /// Scheduled end (Unix ms).
    pub ends_at: Option<i64>,
    /// After this the meeting may be deleted (Unix ms).
    pub expires_at: i64,
    /// Meet Now (ad hoc) rather than scheduled.
    pub ad_hoc: bool,
    /// The validated settings document (JSON).
    pub settings: String,
    /// When it was created (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// A user's failed dial-in PIN attempts (table `pin_lockouts`, migration 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinLockoutRow {
    /// Start of the current counting window (Unix ms).
    pub window_start: i64,
    /// Failures in that window.
    pub window_failures: i64,
    /// Failures since the last success or admin unlock.
    pub total_failures: i64,
    /// Locked until then (Unix ms), after the window limit.
    pub locked_until: Option<i64>,
    /// Locked until an admin unlocks, after the global limit.
    pub locked_out: bool,
}

/// A meeting recording (table `recordings`, migration 10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRow {
    /// Random, URL-safe.
    pub id: String,
    /// The meeting recorded.
    pub meeting_id: String,
    /// The meeting's organizer.
    pub organizer_id: i64,
    /// The meeting's subject when recorded.
    pub subject: String,
    /// JSON list of the SIP URIs who may list and download it.
    pub viewers: String,
    /// The file's name in the recordings directory.
    pub file: String,
    /// When recording started (Unix ms).
    pub started_at: i64,
    /// When it stopped (`None` while recording).
    pub ended_at: Option<i64>,
    /// Length of the audio.
    pub duration_ms: i64,
    /// Size of the file.
    pub bytes: i64,
}
