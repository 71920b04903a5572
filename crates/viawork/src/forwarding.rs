//! Call forwarding and simultaneous ring settings, with UCWA's semantics
//! (`callForwardingSettings`): at most one active setting — off, immediate forward (to a
//! contact, a number or voicemail) or simultaneous ring (of a contact or a number, after a
//! ring delay) — plus what happens to calls nobody answers (to voicemail, a contact or a
//! number after N seconds), which does not apply while calls are forwarded immediately.
//!
//! [`check`] validates what a user asks against the directory, their dial plan, their
//! `AllowCallForwarding` / `AllowSimultaneousRing` settings and the toll-fraud guard (the
//! same as for callback numbers: forwarding to a number makes the PBX dial it on the
//! user's account), and normalises it: contacts by SIP URI, numbers in E.164. The store
//! keeps the result as JSON. Incoming calls apply it (the incoming-calls work of the client
//! API issue).

use serde::{Deserialize, Serialize};

use crate::calls::guard::{check_callback, is_emergency, GuardPolicy};
use crate::domain::{DialPlan, Dialable, LineUri};
use crate::store::{Store, StoreError, UserRow};

/// Which setting is active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = ForwardingActive)]
#[serde(rename_all = "snake_case")]
pub enum Active {
    /// Calls ring the user as usual.
    #[default]
    Off,
    /// Calls go straight to the immediate-forward target.
    ImmediateForward,
    /// Calls ring the user and the simultaneous-ring target.
    SimultaneousRing,
}

/// What a forward points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ForwardingKind)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A directory user (`to` is their SIP URI).
    Contact,
    /// A phone number (`to` as typed; stored in E.164 or as an extension).
    Number,
    /// A voicemail system (`to` a `sip:` or `tel:` URI).
    Voicemail,
}

/// A target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ForwardingTarget)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// What it is.
    pub target: Kind,
    /// Where.
    pub to: String,
}

/// Simultaneous ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimultaneousRing {
    /// `contact` or `number`.
    pub target: Kind,
    /// Where.
    pub to: String,
    /// Seconds the user's own endpoints ring alone first (0–60).
    #[serde(default)]
    pub ring_delay_secs: u32,
}

/// Unanswered-call handling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = UnansweredCalls)]
#[serde(deny_unknown_fields)]
pub struct Unanswered {
    /// `voicemail`, `contact` or `number`.
    pub target: Kind,
    /// Where.
    pub to: String,
    /// Seconds a call rings before it goes there (5–60).
    pub after_secs: u32,
}

/// A user's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[schema(as = CallForwardingSettings)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The active setting.
    pub active: Active,
    /// Where immediate forwarding goes (kept while another setting is active).
    #[serde(default)]
    pub immediate_forward: Option<Target>,
    /// Who rings along (kept while another setting is active).
    #[serde(default)]
    pub simultaneous_ring: Option<SimultaneousRing>,
    /// Unanswered calls; `None`: they ring until the caller gives up.
    #[serde(default)]
    pub unanswered: Option<Unanswered>,
}

impl Settings {
    /// UCWA's `unansweredCallHandling`: off while calls are forwarded immediately.
    pub fn unanswered_applies(&self) -> bool {
        self.active != Active::ImmediateForward && self.unanswered.is_some()
    }
}

/// Why settings are refused.
#[derive(Debug, thiserror::Error)]
pub enum ForwardingError {
    /// The user is not enabled for Enterprise Voice.
    #[error("call forwarding needs Enterprise Voice")]
    NotEnterpriseVoice,
    /// The user's settings do not allow it.
    #[error("{what} is not allowed for this user")]
    NotAllowed {
        /// The field.
        field: &'static str,
        /// UCWA-style subcode.
        code: &'static str,
        /// What.
        what: &'static str,
    },
    /// A value out of bounds or missing.
    #[error("{message}")]
    Invalid {
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A contact that is not an enabled directory user.
    #[error("{uri} is not a user of this server")]
    UnknownPerson {
        /// The field.
        field: String,
        /// The URI.
        uri: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: &str, message: impl Into<String>) -> ForwardingError {
    ForwardingError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// What [`check`] needs besides the request.
pub struct Context<'a> {
    /// The store (contacts).
    pub store: &'a dyn Store,
    /// The user.
    pub user: &'a UserRow,
    /// Their dial plan.
    pub plan: &'a DialPlan,
    /// What numbers they may forward to.
    pub guard: GuardPolicy,
}

/// Validates and normalises `s` for `cx.user`.
pub async fn check(cx: &Context<'_>, mut s: Settings) -> Result<Settings, ForwardingError> {
    if !cx.user.enterprise_voice {
        return Err(ForwardingError::NotEnterpriseVoice);
    }
    match s.active {
        Active::ImmediateForward if !cx.user.allow_call_forwarding => {
            return Err(ForwardingError::NotAllowed {
                field: "active",
                code: "CallForwardingNotAllowed",
                what: "call forwarding",
            })
        }
        Active::ImmediateForward if s.immediate_forward.is_none() => {
            return Err(invalid(
                "immediate_forward",
                "give the target to forward to",
            ))
        }
        Active::SimultaneousRing if !cx.user.allow_simultaneous_ring => {
            return Err(ForwardingError::NotAllowed {
                field: "active",
                code: "SimultaneousRingNotAllowed",
                what: "simultaneous ring",
            })
        }
        Active::SimultaneousRing if s.simultaneous_ring.is_none() => {
            return Err(invalid(
                "simultaneous_ring",
                "give the target to ring along",
            ))
        }
        _ => {}
    }
    if let Some(t) = &mut s.immediate_forward {
        t.to = target(cx, "immediate_forward", t.target, &t.to).await?;
    }
    if let Some(r) = &mut s.simultaneous_ring {
        if r.target == Kind::Voicemail {
            return Err(invalid(
                "simultaneous_ring.target",
                "contact or number (voicemail cannot ring along)",
            ));
        }
        if r.ring_delay_secs > 60 {
            return Err(invalid(
                "simultaneous_ring.ring_delay_secs",
                "0 to 60 seconds",
            ));
        }
        r.to = target(cx, "simultaneous_ring", r.target, &r.to).await?;
    }
    if let Some(u) = &mut s.unanswered {
        if u.target != Kind::Voicemail && !cx.user.allow_call_forwarding {
            return Err(ForwardingError::NotAllowed {
                field: "unanswered",
                code: "CallForwardingNotAllowed",
                what: "forwarding unanswered calls to a contact or number",
            });
        }
        if !(5..=60).contains(&u.after_secs) {
            return Err(invalid("unanswered.after_secs", "5 to 60 seconds"));
        }
        u.to = target(cx, "unanswered", u.target, &u.to).await?;
    }
    Ok(s)
}

/// Normalises one target's `to`.
async fn target(
    cx: &Context<'_>,
    at: &str,
    kind: Kind,
    to: &str,
) -> Result<String, ForwardingError> {
    let field = format!("{at}.to");
    let to = to.trim();
    if to.is_empty() || to.len() > 256 || to.chars().any(char::is_control) {
        return Err(invalid(&field, "a SIP URI, a tel: URI or a number"));
    }
    match kind {
        Kind::Contact => {
            let uri = to.to_lowercase();
            let unknown = || ForwardingError::UnknownPerson {
                field: field.clone(),
                uri: to.to_owned(),
            };
            if !uri.starts_with("sip:") {
                return Err(unknown());
            }
            match cx.store.get_user_by_sip_uri(&uri).await? {
                Some(u) if u.enabled && u.id != cx.user.id => Ok(u.sip_uri),
                Some(u) if u.id == cx.user.id => Err(invalid(&field, "not yourself")),
                _ => Err(unknown()),
            }
        }
        Kind::Number => {
            if is_emergency(to) {
                return Err(invalid(
                    &field,
                    "calls cannot be forwarded to an emergency number",
                ));
            }
            let typed = to.strip_prefix("tel:").unwrap_or(to);
            let n = cx
                .plan
                .normalize(typed)
                .map_err(|_| invalid(&field, format!("the dial plan cannot normalise {to:?}")))?
                .result;
            match n {
                Dialable::E164(n) => {
                    let home = cx.user.line_uri.parse::<LineUri>().ok();
                    check_callback(typed, &n, home.as_ref().map(LineUri::number), cx.guard)
                        .map_err(|e| {
                            invalid(
                                &field,
                                e.to_string()
                                    .replace("callback number", "forwarding target"),
                            )
                        })?;
                    Ok(n.to_string())
                }
                Dialable::Extension(e) => Ok(e.to_string()),
            }
        }
        Kind::Voicemail => match sip::Uri::parse(to) {
            Ok(sip::Uri::Sip(_) | sip::Uri::Tel(_)) => Ok(to.to_owned()),
            _ => Err(invalid(
                &field,
                "a sip: or tel: URI of the voicemail system",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_ucwa_semantics_and_refuse_unknown_members() {
        let s: Settings = serde_json::from_str(
            r#"{"active":"immediate_forward","immediate_forward":{"target":"voicemail","to":"sip:vm@example.com"},
                "unanswered":{"target":"voicemail","to":"sip:vm@example.com","after_secs":20}}"#,
        )
        .unwrap();
        assert_eq!(s.active, Active::ImmediateForward);
        assert!(
            !s.unanswered_applies(),
            "no unanswered handling while forwarding"
        );
        let off = Settings {
            active: Active::Off,
            ..s.clone()
        };
        assert!(off.unanswered_applies());
        assert!(serde_json::from_str::<Settings>(r#"{"active":"sometimes"}"#).is_err());
        assert!(serde_json::from_str::<Settings>(r#"{"active":"off","colour":1}"#).is_err());
        assert_eq!(Settings::default().active, Active::Off);
    }
}
