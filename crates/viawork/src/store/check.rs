//! Checks the store makes before writing, so that both backends refuse the same rows with the
//! same [`StoreError::Invalid`] (the schema's CHECK constraints are the backstop).
//!
//! These are integrity rules, not the domain's validation: a role outside `user`/`admin`, a
//! grant that is not a `Tag:` policy, text with a NUL character (which PostgreSQL cannot store
//! and SQLite can, so the two would otherwise disagree), call-log text longer than any real
//! value (so that a runaway writer cannot fill the database).

use super::model::{
    CallLogQuery, CallRecordRow, DialPlanRuleRow, PolicyRow, PresenceSettingsRow, UserRow,
    CALL_LOG_MAX_LIMIT, GLOBAL_POLICY, GLOBAL_SCOPE,
};
use super::StoreError;

/// Text the store can hold in either backend.
pub(crate) fn text(field: &'static str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

/// A contact group's name: not blank, no NUL.
pub(crate) fn group_name(name: &str) -> Result<(), StoreError> {
    if name.trim().is_empty() {
        return Err(StoreError::invalid("name", "is empty"));
    }
    text("name", name)
}

fn opt_text(field: &'static str, value: &Option<String>) -> Result<(), StoreError> {
    value.as_deref().map_or(Ok(()), |v| text(field, v))
}

/// A user row about to be created or updated.
pub(crate) fn user(u: &UserRow) -> Result<(), StoreError> {
    if u.sip_uri.trim().is_empty() {
        return Err(StoreError::invalid("sip_uri", "is empty"));
    }
    if u.role != "user" && u.role != "admin" {
        return Err(StoreError::invalid("role", "must be \"user\" or \"admin\""));
    }
    if let Some(grant) = &u.policy_grant {
        grant_identity(grant)?;
    }
    for (field, value) in [
        ("sip_uri", &u.sip_uri),
        ("display_name", &u.display_name),
        ("email", &u.email),
        ("title", &u.title),
        ("department", &u.department),
        ("office", &u.office),
        ("phone_work", &u.phone_work),
        ("phone_mobile", &u.phone_mobile),
        ("phone_home", &u.phone_home),
        ("phone_other", &u.phone_other),
        ("line_uri", &u.line_uri),
        ("password_hash", &u.password_hash),
    ] {
        text(field, value)?;
    }
    for (field, value) in [
        ("pin_hash", &u.pin_hash),
        ("ha1_md5", &u.ha1_md5),
        ("ha1_sha256", &u.ha1_sha256),
        ("sip_realm", &u.sip_realm),
        ("site", &u.site),
        ("policy_grant", &u.policy_grant),
    ] {
        opt_text(field, value)?;
    }
    Ok(())
}

/// A policy identity: `Global`, `Site:Name` or `Tag:Name`.
pub(crate) fn policy_identity(identity: &str) -> Result<(), StoreError> {
    text("identity", identity)?;
    let named = |prefix: &str| identity.len() > prefix.len() && identity.starts_with(prefix);
    if identity == GLOBAL_POLICY || named("Site:") || named("Tag:") {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "identity",
            "must be Global, Site:Name or Tag:Name",
        ))
    }
}

/// An identity a user can be granted: only `Tag:` policies are granted.
pub(crate) fn grant_identity(identity: &str) -> Result<(), StoreError> {
    text("policy_grant", identity)?;
    if identity.len() > 4 && identity.starts_with("Tag:") {
        Ok(())
    } else {
        Err(StoreError::invalid(
            "policy_grant",
            "only Tag: policies are granted",
        ))
    }
}

/// A policy row about to be written.
pub(crate) fn policy(p: &PolicyRow) -> Result<(), StoreError> {
    policy_identity(&p.identity)?;
    opt_text("admin_callback_number", &p.admin_callback_number)
}

/// A dial-plan scope: `Ok(None)` for [`GLOBAL_SCOPE`], `Ok(Some(user id))` for a user's.
pub(crate) fn scope(scope: &str) -> Result<Option<i64>, StoreError> {
    if scope == GLOBAL_SCOPE {
        return Ok(None);
    }
    match scope.parse::<i64>() {
        Ok(id) if id > 0 && id.to_string() == scope => Ok(Some(id)),
        _ => Err(StoreError::invalid(
            "scope",
            "must be \"global\" or a user id in decimal",
        )),
    }
}

/// A dial-plan rule about to be inserted.
pub(crate) fn rule(r: &DialPlanRuleRow) -> Result<Option<i64>, StoreError> {
    let user = scope(&r.scope)?;
    if r.position < 0 {
        return Err(StoreError::invalid("position", "is negative"));
    }
    if r.name.is_empty() {
        return Err(StoreError::invalid("name", "is empty"));
    }
    text("name", &r.name)?;
    text("pattern", &r.pattern)?;
    text("translation", &r.translation)?;
    Ok(user)
}

/// Text of at most `max` bytes that the store can hold.
fn bounded(field: &'static str, value: &str, max: usize) -> Result<(), StoreError> {
    if value.len() > max {
        return Err(StoreError::invalid(
            field,
            format!("is longer than {max} bytes"),
        ));
    }
    text(field, value)
}

/// The same for an optional value.
fn opt_bounded(field: &'static str, value: &Option<String>, max: usize) -> Result<(), StoreError> {
    value.as_deref().map_or(Ok(()), |v| bounded(field, v, max))
}

/// A call-log row about to be written. The limits are far above real values: a call id is
/// 32 hex digits, a SIP Call-ID rarely passes 100 bytes, media statistics a few hundred.
pub(crate) fn call_record(r: &CallRecordRow) -> Result<(), StoreError> {
    if r.id.is_empty() {
        return Err(StoreError::invalid("id", "is empty"));
    }
    if r.owner_sip_uri.trim().is_empty() {
        return Err(StoreError::invalid("owner_sip_uri", "is empty"));
    }
    if r.direction.is_empty() {
        return Err(StoreError::invalid("direction", "is empty"));
    }
    bounded("id", &r.id, 64)?;
    bounded("owner_sip_uri", &r.owner_sip_uri, 1024)?;
    bounded("direction", &r.direction, 32)?;
    bounded("to_text", &r.to_text, 2048)?;
    bounded("to_number", &r.to_number, 256)?;
    bounded("callback_number", &r.callback_number, 256)?;
    opt_bounded("end_reason", &r.end_reason, 64)?;
    opt_bounded("hung_up_by", &r.hung_up_by, 32)?;
    opt_bounded("callback_sip_call_id", &r.callback_sip_call_id, 1024)?;
    opt_bounded("far_sip_call_id", &r.far_sip_call_id, 1024)?;
    opt_bounded("media_stats", &r.media_stats, 64 * 1024)
}

/// A call-log query.
pub(crate) fn call_log_query(q: &CallLogQuery) -> Result<(), StoreError> {
    if q.limit == 0 || q.limit > CALL_LOG_MAX_LIMIT {
        return Err(StoreError::invalid(
            "limit",
            format!("must be from 1 to {CALL_LOG_MAX_LIMIT}"),
        ));
    }
    if let Some(owner) = &q.owner {
        text("owner", owner)?;
    }
    if let Some((_, id)) = &q.before {
        text("before", id)?;
    }
    if let Some(reason) = &q.end_reason {
        text("end_reason", reason)?;
    }
    Ok(())
}

/// A page size: from 1 to `max`.
pub(crate) fn limit(limit: u32, max: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > max {
        return Err(StoreError::invalid(
            "limit",
            format!("must be from 1 to {max}"),
        ));
    }
    Ok(())
}

/// The settable availabilities, as stored.
const PRESENCE_AVAILABILITIES: [&str; 6] = [
    "Online",
    "Busy",
    "DoNotDisturb",
    "BeRightBack",
    "Away",
    "Offwork",
];

/// The longest note kept, in bytes (the API allows 500 characters, at most 2,000 bytes).
const PRESENCE_NOTE_MAX_BYTES: usize = 2000;

/// Presence settings about to be written.
pub(crate) fn presence_settings(r: &PresenceSettingsRow) -> Result<(), StoreError> {
    if let Some(a) = &r.availability {
        if !PRESENCE_AVAILABILITIES.contains(&a.as_str()) {
            return Err(StoreError::invalid(
                "availability",
                format!("{a:?} is not a settable availability"),
            ));
        }
    }
    text("note", &r.note)?;
    if r.note.len() > PRESENCE_NOTE_MAX_BYTES {
        return Err(StoreError::invalid("note", "is too long"));
    }
    Ok(())
}
