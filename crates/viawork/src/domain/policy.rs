//! Call Via Work policies (`CsCallViaWorkPolicy`) and the choice of the number the server
//! rings first (the callback leg).
//!
//! A [`CallViaWorkPolicy`] has Skype's settings: `Enabled` (default false),
//! `UseAdminCallbackNumber` and `AdminCallbackNumber`. One more rule than Skype documents:
//! `UseAdminCallbackNumber` true needs an `AdminCallbackNumber`, since it makes that number
//! the only one the server may ring.
//!
//! Two settings are ViaWork extensions, not in Skype's cmdlet: `AllowInternationalCallback`
//! and `AllowPremiumCallback` (both default false) let the users of a policy choose a
//! callback number in another country than their LineURI, or a premium-rate one, which the
//! toll-fraud guard otherwise refuses ([`CallViaWorkPolicy::callback_guard`]; the server
//! settings `calls.allow_international_callback` / `calls.allow_premium_callback` stay a
//! server-wide override). They only matter when `UseAdminCallbackNumber` is false: under it
//! the user chooses no number. Emergency numbers are refused whatever the policy says.
//!
//! Scopes and their lifecycle, as in Skype:
//!
//! - the `Global` policy always exists: it cannot be created ([`CallViaWorkPolicy::create`]
//!   refuses it), and removing it resets it to defaults ([`removal`]);
//! - `Site:` policies apply to the users of a site, `Tag:` policies to the users they are
//!   granted to; granting none (or removing the granted policy) returns a user to their
//!   site's policy, else the global one;
//! - the effective policy of a user is the first of user grant → site → global
//!   ([`effective_policy`]).
//!
//! [`callback_number`] picks the number to ring: the policy's `AdminCallbackNumber` when
//! `UseAdminCallbackNumber` is true; otherwise the number the user gave, else the policy's
//! `AdminCallbackNumber`, else the user's LineURI.
//!
//! `AdminCallbackNumber` is typed as "digits with an optional leading +"; the edge turns
//! it into E.164 with [`super::DialPlan::normalize_to_e164`] (field
//! `adminCallbackNumber`) before it reaches this module.

use super::e164::E164;
use super::error::DomainError;
use super::extension::Extension;
use super::line_uri::LineUri;
use super::policy_identity::PolicyIdentity;
use crate::calls::guard::GuardPolicy;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The settings of a Call Via Work policy, as given to `New-` or read from the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicySettings {
    /// `Enabled`: users of this policy may use Call Via Work.
    pub enabled: bool,
    /// `UseAdminCallbackNumber`: the admin number is the only callback number.
    pub use_admin_callback_number: bool,
    /// `AdminCallbackNumber`: the number rung first (typically the desk phone).
    pub admin_callback_number: Option<E164>,
    /// `AllowInternationalCallback` (ViaWork extension): the user may choose a callback
    /// number in another country than their LineURI. Only matters when
    /// `use_admin_callback_number` is false.
    pub allow_international_callback: bool,
    /// `AllowPremiumCallback` (ViaWork extension): the user may choose a premium-rate
    /// callback number. Only matters when `use_admin_callback_number` is false.
    pub allow_premium_callback: bool,
}

/// A change to some settings, as `Set-CsCallViaWorkPolicy` makes; `None` keeps a setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyPatch {
    /// New `Enabled`.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// New `UseAdminCallbackNumber`.
    #[serde(default)]
    pub use_admin_callback_number: Option<bool>,
    /// New `AdminCallbackNumber`; `Some(None)` clears it (JSON `null`).
    #[serde(default, deserialize_with = "some_nullable")]
    pub admin_callback_number: Option<Option<E164>>,
    /// New `AllowInternationalCallback`.
    #[serde(default)]
    pub allow_international_callback: Option<bool>,
    /// New `AllowPremiumCallback`.
    #[serde(default)]
    pub allow_premium_callback: Option<bool>,
}

/// Distinguishes a member set to `null` (`Some(None)`) from an absent one (`None`).
fn some_nullable<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<E164>>, D::Error> {
    Option::<E164>::deserialize(d).map(Some)
}

/// A Call Via Work policy whose settings are consistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyFields", into = "PolicyFields")]
pub struct CallViaWorkPolicy {
    identity: PolicyIdentity,
    settings: PolicySettings,
}

/// The serialised form of [`CallViaWorkPolicy`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyFields {
    identity: PolicyIdentity,
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    use_admin_callback_number: bool,
    #[serde(default)]
    admin_callback_number: Option<E164>,
    #[serde(default)]
    allow_international_callback: bool,
    #[serde(default)]
    allow_premium_callback: bool,
}

impl CallViaWorkPolicy {
    /// A policy of any scope with `settings` (errors in field `adminCallbackNumber` when
    /// `UseAdminCallbackNumber` is true without a number). For policies read back from the
    /// store; an admin creating one goes through [`CallViaWorkPolicy::create`].
    pub fn new(
        identity: PolicyIdentity,
        settings: PolicySettings,
    ) -> Result<CallViaWorkPolicy, DomainError> {
        if settings.use_admin_callback_number && settings.admin_callback_number.is_none() {
            return Err(DomainError::invalid(
                "adminCallbackNumber",
                "is required when useAdminCallbackNumber is true",
            ));
        }
        Ok(CallViaWorkPolicy { identity, settings })
    }

    /// `New-CsCallViaWorkPolicy`: like [`CallViaWorkPolicy::new`], but the Global policy
    /// cannot be created (error in field `identity`): it always exists.
    pub fn create(
        identity: PolicyIdentity,
        settings: PolicySettings,
    ) -> Result<CallViaWorkPolicy, DomainError> {
        if identity == PolicyIdentity::Global {
            return Err(DomainError::invalid(
                "identity",
                "the Global policy always exists and cannot be created; change it instead",
            ));
        }
        CallViaWorkPolicy::new(identity, settings)
    }

    /// The Global policy with Skype's defaults (disabled, no admin callback number).
    pub fn default_global() -> CallViaWorkPolicy {
        CallViaWorkPolicy {
            identity: PolicyIdentity::Global,
            settings: PolicySettings::default(),
        }
    }

    /// `Set-CsCallViaWorkPolicy`: the policy with `patch` applied, if the result is
    /// consistent.
    pub fn apply(&self, patch: &PolicyPatch) -> Result<CallViaWorkPolicy, DomainError> {
        let mut s = self.settings.clone();
        if let Some(v) = patch.enabled {
            s.enabled = v;
        }
        if let Some(v) = patch.use_admin_callback_number {
            s.use_admin_callback_number = v;
        }
        if let Some(v) = &patch.admin_callback_number {
            s.admin_callback_number = v.clone();
        }
        if let Some(v) = patch.allow_international_callback {
            s.allow_international_callback = v;
        }
        if let Some(v) = patch.allow_premium_callback {
            s.allow_premium_callback = v;
        }
        CallViaWorkPolicy::new(self.identity.clone(), s)
    }

    /// Which policy this is.
    pub fn identity(&self) -> &PolicyIdentity {
        &self.identity
    }

    /// The settings.
    pub fn settings(&self) -> &PolicySettings {
        &self.settings
    }

    /// `Enabled`.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// `UseAdminCallbackNumber`.
    pub fn use_admin_callback_number(&self) -> bool {
        self.settings.use_admin_callback_number
    }

    /// `AdminCallbackNumber`.
    pub fn admin_callback_number(&self) -> Option<&E164> {
        self.settings.admin_callback_number.as_ref()
    }

    /// `AllowInternationalCallback` (ViaWork extension).
    pub fn allow_international_callback(&self) -> bool {
        self.settings.allow_international_callback
    }

    /// `AllowPremiumCallback` (ViaWork extension).
    pub fn allow_premium_callback(&self) -> bool {
        self.settings.allow_premium_callback
    }

    /// What the toll-fraud guard allows a number chosen by a user of this policy: a kind
    /// of number (abroad, premium-rate) is allowed when this policy's setting or the
    /// server-wide override `server` (`calls.allow_*_callback`) allows it.
    pub fn callback_guard(&self, server: GuardPolicy) -> GuardPolicy {
        GuardPolicy {
            allow_international: server.allow_international
                || self.settings.allow_international_callback,
            allow_premium: server.allow_premium || self.settings.allow_premium_callback,
        }
    }
}

impl TryFrom<PolicyFields> for CallViaWorkPolicy {
    type Error = DomainError;
    fn try_from(f: PolicyFields) -> Result<Self, Self::Error> {
        CallViaWorkPolicy::new(
            f.identity,
            PolicySettings {
                enabled: f.enabled,
                use_admin_callback_number: f.use_admin_callback_number,
                admin_callback_number: f.admin_callback_number,
                allow_international_callback: f.allow_international_callback,
                allow_premium_callback: f.allow_premium_callback,
            },
        )
    }
}

impl From<CallViaWorkPolicy> for PolicyFields {
    fn from(p: CallViaWorkPolicy) -> Self {
        PolicyFields {
            identity: p.identity,
            enabled: p.settings.enabled,
            use_admin_callback_number: p.settings.use_admin_callback_number,
            admin_callback_number: p.settings.admin_callback_number,
            allow_international_callback: p.settings.allow_international_callback,
            allow_premium_callback: p.settings.allow_premium_callback,
        }
    }
}

/// What `Remove-CsCallViaWorkPolicy` does to a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// Global: not deleted, reset to this (the defaults).
    ResetTo(CallViaWorkPolicy),
    /// Site or tag: deleted; its users fall back to their site's or the global policy.
    Delete,
}

/// What removing the policy `identity` means.
pub fn removal(identity: &PolicyIdentity) -> Removal {
    match identity {
        PolicyIdentity::Global => Removal::ResetTo(CallViaWorkPolicy::default_global()),
        _ => Removal::Delete,
    }
}

/// The policy that applies to a user: the one granted to them, else their site's, else
/// the global policy.
pub fn effective_policy<'a>(
    user_grant: Option<&'a CallViaWorkPolicy>,
    site: Option<&'a CallViaWorkPolicy>,
    global: &'a CallViaWorkPolicy,
) -> &'a CallViaWorkPolicy {
    debug_assert!(user_grant.is_none_or(|p| matches!(p.identity, PolicyIdentity::Tag(_))));
    debug_assert!(site.is_none_or(|p| matches!(p.identity, PolicyIdentity::Site(_))));
    user_grant.or(site).unwrap_or(global)
}

/// Where a callback number came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CallbackSource {
    /// The policy's `AdminCallbackNumber`, imposed by `UseAdminCallbackNumber`.
    AdminRequired,
    /// The number the user gave.
    UserChoice,
    /// The policy's `AdminCallbackNumber`, as the default when the user gave none.
    AdminDefault,
    /// The user's LineURI, when nothing else gave a number.
    LineUri,
}

/// The number to ring first, and why it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackNumber {
    number: E164,
    extension: Option<Extension>,
    source: CallbackSource,
}

impl CallbackNumber {
    /// The number.
    pub fn number(&self) -> &E164 {
        &self.number
    }

    /// The extension behind the number, when it came from a LineURI with `;ext=`.
    pub fn extension(&self) -> Option<&Extension> {
        self.extension.as_ref()
    }

    /// Where the number came from.
    pub fn source(&self) -> CallbackSource {
        self.source
    }
}

/// As a `tel:` URI (`tel:+14255550100;ext=101`), ready for a Request-URI.
impl fmt::Display for CallbackNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        LineUri::new(self.number.clone(), self.extension.clone()).fmt(f)
    }
}

/// Why no callback number can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The user's effective policy does not enable Call Via Work.
    #[error("Call Via Work is not enabled by policy {policy}")]
    Disabled {
        /// The effective policy.
        policy: PolicyIdentity,
    },
    /// The policy imposes its admin number and the user asked for another one.
    #[error("the callback number must be {required} (set by policy {policy}), not {requested}")]
    UserChoiceNotAllowed {
        /// The number the user gave.
        requested: E164,
        /// The only number allowed.
        required: E164,
        /// The policy that imposes it.
        policy: PolicyIdentity,
    },
    /// No number was given, the policy has none and the user has no LineURI.
    #[error(
        "no callback number: give a phone number (the policy has none and the user has no LineURI)"
    )]
    NoNumber,
}

impl CallbackError {
    /// The UCWA error subcode for the answer: `DialoutNotAllowed`, `PhoneNumberConflict`
    /// or `ParameterValidationFailure` (field `phoneNumber`) respectively.
    pub fn subcode(&self) -> &'static str {
        match self {
            CallbackError::Disabled { .. } => "DialoutNotAllowed",
            CallbackError::UserChoiceNotAllowed { .. } => "PhoneNumberConflict",
            CallbackError::NoNumber => "ParameterValidationFailure",
        }
    }
}

/// Chooses the number to ring first for a user whose effective policy is `policy`, who
/// asked for `user_choice` (already normalised) and whose line is `line_uri`.
///
/// A disabled policy gives [`CallbackError::Disabled`]. Under `UseAdminCallbackNumber`
/// the admin number is the answer; a user choice equal to it is accepted, any other is
/// [`CallbackError::UserChoiceNotAllowed`]. Otherwise the first of user choice, admin
/// number and LineURI, or [`CallbackError::NoNumber`].
pub fn callback_number(
    policy: &CallViaWorkPolicy,
    user_choice: Option<E164>,
    line_uri: Option<&LineUri>,
) -> Result<CallbackNumber, CallbackError> {
    if !policy.enabled() {
        return Err(CallbackError::Disabled {
            policy: policy.identity.clone(),
        });
    }
    let admin = policy.admin_callback_number();
    let plain = |number: &E164, source| CallbackNumber {
        number: number.clone(),
        extension: None,
        source,
    };
    if policy.use_admin_callback_number() {
        // `new` guarantees the number; stay total all the same.
        let required = admin.ok_or(CallbackError::NoNumber)?;
        return match user_choice {
            Some(requested) if &requested != required => Err(CallbackError::UserChoiceNotAllowed {
                requested,
                required: required.clone(),
                policy: policy.identity.clone(),
            }),
            _ => Ok(plain(required, CallbackSource::AdminRequired)),
        };
    }
    if let Some(n) = user_choice {
        return Ok(plain(&n, CallbackSource::UserChoice));
    }
    if let Some(n) = admin {
        return Ok(plain(n, CallbackSource::AdminDefault));
    }
    match line_uri {
        Some(l) => Ok(CallbackNumber {
            number: l.number().clone(),
            extension: l.extension().cloned(),
            source: CallbackSource::LineUri,
        }),
        None => Err(CallbackError::NoNumber),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> E164 {
        s.parse().unwrap()
    }

    fn id(s: &str) -> PolicyIdentity {
        s.parse().unwrap()
    }

    fn policy(
        identity: &str,
        enabled: bool,
        use_admin: bool,
        admin: Option<&str>,
    ) -> CallViaWorkPolicy {
        CallViaWorkPolicy::new(
            id(identity),
            PolicySettings {
                enabled,
                use_admin_callback_number: use_admin,
                admin_callback_number: admin.map(n),
                ..PolicySettings::default()
            },
        )
        .unwrap()
    }

    #[test]
    fn defaults_follow_skype() {
        let g = CallViaWorkPolicy::default_global();
        assert_eq!(g.identity(), &PolicyIdentity::Global);
        assert!(!g.enabled());
        assert!(!g.use_admin_callback_number());
        assert_eq!(g.admin_callback_number(), None);
        assert!(!g.allow_international_callback());
        assert!(!g.allow_premium_callback());
    }

    #[test]
    fn use_admin_callback_number_requires_a_number() {
        let e = CallViaWorkPolicy::new(
            id("Tag:Sales"),
            PolicySettings {
                enabled: true,
                use_admin_callback_number: true,
                admin_callback_number: None,
                ..PolicySettings::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field(), "adminCallbackNumber");
        // The deployment guide's example.
        let p = policy("Tag:ContosoUser1CvWP", true, true, Some("+15557891234"));
        assert_eq!(
            p.admin_callback_number().map(E164::as_str),
            Some("+15557891234")
        );
    }

    #[test]
    fn global_cannot_be_created_and_removing_it_resets_it() {
        let e = CallViaWorkPolicy::create(PolicyIdentity::Global, PolicySettings::default())
            .unwrap_err();
        assert_eq!(e.field(), "identity");
        assert!(CallViaWorkPolicy::create(id("Site:Redmond"), PolicySettings::default()).is_ok());
        assert_eq!(
            removal(&PolicyIdentity::Global),
            Removal::ResetTo(CallViaWorkPolicy::default_global())
        );
        assert_eq!(removal(&id("Tag:Sales")), Removal::Delete);
    }

    #[test]
    fn patches_change_only_what_they_name_and_stay_consistent() {
        let p = policy("Tag:Sales", false, false, None);
        let p = p
            .apply(&PolicyPatch {
                enabled: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert!(p.enabled());
        let e = p
            .apply(&PolicyPatch {
                use_admin_callback_number: Some(true),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.field(), "adminCallbackNumber");
        let p = p
            .apply(&PolicyPatch {
                use_admin_callback_number: Some(true),
                admin_callback_number: Some(Some(n("+14255550100"))),
                ..Default::default()
            })
            .unwrap();
        assert!(p.use_admin_callback_number());
        // Clearing the number while it is imposed is refused.
        assert!(p
            .apply(&PolicyPatch {
                admin_callback_number: Some(None),
                ..Default::default()
            })
            .is_err());

        let patch: PolicyPatch =
            serde_json::from_str(r#"{"adminCallbackNumber": null, "enabled": false}"#).unwrap();
        assert_eq!(patch.admin_callback_number, Some(None));
        let patch: PolicyPatch = serde_json::from_str(r#"{"enabled": true}"#).unwrap();
        assert_eq!(patch.admin_callback_number, None);
        assert!(serde_json::from_str::<PolicyPatch>(r#"{"adminCallbackNumber":"555"}"#).is_err());
        assert!(serde_json::from_str::<PolicyPatch>(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn effective_policy_resolves_user_then_site_then_global() {
        let g = CallViaWorkPolicy::default_global();
        let site = policy("Site:Redmond", true, false, None);
        let tag = policy("Tag:Sales", true, true, Some("+14255550100"));
        assert_eq!(effective_policy(Some(&tag), Some(&site), &g), &tag);
        assert_eq!(effective_policy(None, Some(&site), &g), &site);
        assert_eq!(effective_policy(None, None, &g), &g);
        assert_eq!(effective_policy(Some(&tag), None, &g), &tag);
    }

    #[test]
    fn callback_number_follows_the_rule() {
        let line: LineUri = "tel:+14255550100;ext=101".parse().unwrap();
        let mobile = n("+12065550199");
        let desk = n("+14255550123");

        // UseAdminCallbackNumber: the admin number, whatever else there is.
        let forced = policy("Tag:Forced", true, true, Some("+14255550123"));
        let c = callback_number(&forced, None, Some(&line)).unwrap();
        assert_eq!(
            (c.number(), c.source()),
            (&desk, CallbackSource::AdminRequired)
        );
        let c = callback_number(&forced, Some(desk.clone()), None).unwrap();
        assert_eq!(c.source(), CallbackSource::AdminRequired);
        let e = callback_number(&forced, Some(mobile.clone()), Some(&line)).unwrap_err();
        assert_eq!(e.subcode(), "PhoneNumberConflict");
        assert!(
            matches!(e, CallbackError::UserChoiceNotAllowed { ref requested, .. } if requested == &mobile)
        );

        // Otherwise: the user's number, else the admin number, else the LineURI.
        let free = policy("Tag:Free", true, false, Some("+14255550123"));
        let c = callback_number(&free, Some(mobile.clone()), Some(&line)).unwrap();
        assert_eq!(
            (c.number(), c.source()),
            (&mobile, CallbackSource::UserChoice)
        );
        let c = callback_number(&free, None, Some(&line)).unwrap();
        assert_eq!(
            (c.number(), c.source()),
            (&desk, CallbackSource::AdminDefault)
        );
        let bare = policy("Tag:Bare", true, false, None);
        let c = callback_number(&bare, None, Some(&line)).unwrap();
        assert_eq!(c.source(), CallbackSource::LineUri);
        assert_eq!(c.extension().map(Extension::as_str), Some("101"));
        assert_eq!(c.to_string(), "tel:+14255550100;ext=101");
        let e = callback_number(&bare, None, None).unwrap_err();
        assert_eq!(e, CallbackError::NoNumber);
        assert_eq!(e.subcode(), "ParameterValidationFailure");
    }

    #[test]
    fn a_disabled_policy_gives_no_callback() {
        let off = policy("Site:Redmond", false, false, Some("+14255550123"));
        let e = callback_number(&off, Some(n("+12065550199")), None).unwrap_err();
        assert_eq!(e.subcode(), "DialoutNotAllowed");
        assert!(e.to_string().contains("Site:Redmond"));
    }

    #[test]
    fn serde_uses_camel_case_and_validates() {
        let p = policy("Tag:Sales", true, true, Some("+14255550100"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "identity": "Tag:Sales",
                "enabled": true,
                "useAdminCallbackNumber": true,
                "adminCallbackNumber": "+14255550100",
                "allowInternationalCallback": false,
                "allowPremiumCallback": false
            })
        );
        assert_eq!(
            serde_json::from_value::<CallViaWorkPolicy>(json).unwrap(),
            p
        );
        let bad = serde_json::json!({"identity": "Tag:X", "useAdminCallbackNumber": true});
        assert!(serde_json::from_value::<CallViaWorkPolicy>(bad).is_err());
        let bad = serde_json::json!({"identity": "Sales"});
        assert!(serde_json::from_value::<CallViaWorkPolicy>(bad).is_err());
    }

    #[test]
    fn callback_extensions_default_to_false_and_are_patched_alone() {
        // A policy serialised before the extensions existed reads back with both false.
        let old = serde_json::json!({"identity": "Tag:Sales", "enabled": true});
        let p = serde_json::from_value::<CallViaWorkPolicy>(old).unwrap();
        assert!(!p.allow_international_callback());
        assert!(!p.allow_premium_callback());

        let patch: PolicyPatch =
            serde_json::from_str(r#"{"allowInternationalCallback": true}"#).unwrap();
        assert_eq!(patch.allow_international_callback, Some(true));
        assert_eq!(patch.allow_premium_callback, None);
        let p = p.apply(&patch).unwrap();
        assert!(p.allow_international_callback());
        assert!(!p.allow_premium_callback());
        assert!(p.enabled(), "the patch changes nothing else");
        let p = p
            .apply(&serde_json::from_str(r#"{"allowPremiumCallback": true}"#).unwrap())
            .unwrap();
        assert!(p.allow_international_callback() && p.allow_premium_callback());

        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["allowInternationalCallback"], true);
        assert_eq!(json["allowPremiumCallback"], true);
        assert_eq!(
            serde_json::from_value::<CallViaWorkPolicy>(json).unwrap(),
            p
        );
        assert!(serde_json::from_str::<PolicyPatch>(r#"{"allowPremiumCallback": "yes"}"#).is_err());
    }

    #[test]
    fn callback_guard_allows_what_the_policy_or_the_server_allows() {
        use crate::calls::guard::{check_callback, GuardError};
        let home = n("+14255550101");
        let london = n("+442079460958");
        let premium = n("+19005550101");
        let closed = GuardPolicy::default();
        let open = GuardPolicy {
            allow_international: true,
            allow_premium: true,
        };
        let check = |p: &CallViaWorkPolicy, server, number: &E164| {
            check_callback(
                number.as_str(),
                number,
                Some(&home),
                p.callback_guard(server),
            )
        };

        let plain = policy("Tag:Plain", true, false, None);
        assert_eq!(plain.callback_guard(closed), closed);
        assert_eq!(
            check(&plain, closed, &london),
            Err(GuardError::International)
        );
        assert_eq!(check(&plain, closed, &premium), Err(GuardError::Premium));
        // The server-wide override still opens everything.
        assert_eq!(plain.callback_guard(open), open);
        assert_eq!(check(&plain, open, &london), Ok(()));

        let abroad = plain
            .apply(&PolicyPatch {
                allow_international_callback: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(check(&abroad, closed, &london), Ok(()));
        assert_eq!(check(&abroad, closed, &premium), Err(GuardError::Premium));

        let toll = plain
            .apply(&PolicyPatch {
                allow_premium_callback: Some(true),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(check(&toll, closed, &premium), Ok(()));
        assert_eq!(
            check(&toll, closed, &london),
            Err(GuardError::International)
        );
        // Emergency numbers stay refused whatever is allowed.
        assert_eq!(
            check_callback(
                "911",
                &n("+14255550911"),
                Some(&home),
                toll.callback_guard(open)
            ),
            Err(GuardError::Emergency)
        );
    }
}
