//! The directory: creating, changing, showing, listing and removing users (`New-`, `Set-`,
//! `Get-CsUser` and friends).
//!
//! Every value is checked by the domain layer before anything is written, so a refused
//! request changes nothing. Passwords are kept only as an argon2id hash plus the SIP digest
//! HA1s (MD5 and SHA-256) for the realm of the user's own domain; PINs only as a hash. None
//! of them is ever shown: views say whether one is set.

use serde::{Deserialize, Serialize};

use super::output::{fields, table, yes_no, Render};
use super::policies::{self, PolicySource, PolicyView};
use super::AdminError;
use crate::domain::{
    callback_number, CallbackSource, DisplayName, DomainError, Email, LineUri, Password,
    PasswordHash, PinPolicy, PolicyName, ProfileText, Role, SipCredentials, UserUri,
};
use crate::store::{Store, UserRow};

/// The fields of `user new` / `user set`; absent means unchanged (or the default for a new
/// user), and an empty string clears an optional text field, the LineURI, the site or the
/// PIN.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserInput {
    /// Display name (required for a new user).
    pub display_name: Option<String>,
    /// Web and SIP password (required for a new user).
    pub password: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// `tel:+14255550101` or `tel:+14255550100;ext=101`.
    pub line_uri: Option<String>,
    /// Enterprise Voice enabled (default false).
    pub enterprise_voice: Option<bool>,
    /// May sign in (default true).
    pub enabled: Option<bool>,
    /// `user` (default) or `admin`.
    pub role: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Office.
    pub office: Option<String>,
    /// Work phone.
    pub phone_work: Option<String>,
    /// Mobile phone.
    pub phone_mobile: Option<String>,
    /// Home phone.
    pub phone_home: Option<String>,
    /// Other phone.
    pub phone_other: Option<String>,
    /// Dial-in conferencing PIN (digits, PIN policy applies).
    pub pin: Option<String>,
    /// The user's site (selects a `Site:` policy).
    pub site: Option<String>,
    /// May forward calls (default true).
    pub allow_call_forwarding: Option<bool>,
    /// May use simultaneous ring (default true).
    pub allow_simultaneous_ring: Option<bool>,
    /// Has dial-in conferencing (default true).
    pub dial_in_conferencing: Option<bool>,
}

/// A user as shown: no secrets, only whether they are set.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    /// Store id.
    pub id: i64,
    /// SIP address.
    pub sip_uri: String,
    /// Display name.
    pub display_name: String,
    /// Email.
    pub email: String,
    /// Title.
    pub title: String,
    /// Department.
    pub department: String,
    /// Office.
    pub office: String,
    /// Work phone.
    pub phone_work: String,
    /// Mobile phone.
    pub phone_mobile: String,
    /// Home phone.
    pub phone_home: String,
    /// Other phone.
    pub phone_other: String,
    /// LineURI.
    pub line_uri: String,
    /// Enterprise Voice.
    pub enterprise_voice: bool,
    /// Enabled.
    pub enabled: bool,
    /// Role.
    pub role: String,
    /// Site.
    pub site: Option<String>,
    /// Granted `Tag:` policy.
    pub policy_grant: Option<String>,
    /// A web password is set.
    pub password_set: bool,
    /// SIP digest credentials are set.
    pub sip_credentials_set: bool,
    /// A PIN is set.
    pub pin_set: bool,
    /// May forward calls.
    pub allow_call_forwarding: bool,
    /// May use simultaneous ring.
    pub allow_simultaneous_ring: bool,
    /// Has dial-in conferencing.
    pub dial_in_conferencing: bool,
    /// Created (unix seconds).
    pub created_at: i64,
    /// Last changed (unix seconds).
    pub updated_at: i64,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        UserView {
            id: u.id,
            sip_uri: u.sip_uri.clone(),
            display_name: u.display_name.clone(),
            email: u.email.clone(),
            title: u.title.clone(),
            department: u.department.clone(),
            office: u.office.clone(),
            phone_work: u.phone_work.clone(),
            phone_mobile: u.phone_mobile.clone(),
            phone_home: u.phone_home.clone(),
            phone_other: u.phone_other.clone(),
            line_uri: u.line_uri.clone(),
            enterprise_voice: u.enterprise_voice,
            enabled: u.enabled,
            role: u.role.clone(),
            site: u.site.clone(),
            policy_grant: u.policy_grant.clone(),
            password_set: !u.password_hash.is_empty(),
            sip_credentials_set: u.ha1_md5.is_some() && u.ha1_sha256.is_some(),
            pin_set: u.pin_hash.is_some(),
            allow_call_forwarding: u.allow_call_forwarding,
            allow_simultaneous_ring: u.allow_simultaneous_ring,
            dial_in_conferencing: u.dial_in_conferencing,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl UserView {
    fn lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SipAddress", self.sip_uri.clone()),
            ("DisplayName", self.display_name.clone()),
            ("Email", self.email.clone()),
            ("Title", self.title.clone()),
            ("Department", self.department.clone()),
            ("Office", self.office.clone()),
            ("Phone", self.phone_work.clone()),
            ("MobilePhone", self.phone_mobile.clone()),
            ("HomePhone", self.phone_home.clone()),
            ("OtherPhone", self.phone_other.clone()),
            ("LineURI", self.line_uri.clone()),
            ("EnterpriseVoiceEnabled", yes_no(self.enterprise_voice)),
            ("Enabled", yes_no(self.enabled)),
            ("Role", self.role.clone()),
            ("Site", self.site.clone().unwrap_or_default()),
            (
                "CallViaWorkPolicy",
                self.policy_grant.clone().unwrap_or_default(),
            ),
            ("Password", set_or_not(self.password_set)),
            ("SipCredentials", set_or_not(self.sip_credentials_set)),
            ("Pin", set_or_not(self.pin_set)),
            ("AllowCallForwarding", yes_no(self.allow_call_forwarding)),
            ("AllowSimulRing", yes_no(self.allow_simultaneous_ring)),
            ("DialInConferencing", yes_no(self.dial_in_conferencing)),
        ]
    }
}

fn set_or_not(b: bool) -> String {
    if b { "set" } else { "not set" }.to_owned()
}

impl Render for UserView {
    fn human(&self) -> String {
        fields(&self.lines())
    }
}

/// `user get`: the user, their effective Call Via Work policy and their callback number.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDetails {
    /// The user.
    #[serde(flatten)]
    pub user: UserView,
    /// The policy that applies (grant → site → global).
    pub effective_policy: PolicyView,
    /// Where it came from.
    pub effective_policy_source: PolicySource,
    /// The number rung first when the user places a call without choosing one
    /// (`tel:` form), if there is one.
    pub callback_number: Option<String>,
    /// Where the callback number came from.
    pub callback_number_source: Option<CallbackSource>,
    /// Why there is no callback number.
    pub callback_unavailable: Option<String>,
}

impl Render for UserDetails {
    fn human(&self) -> String {
        let mut lines = self.user.lines();
        let p = &self.effective_policy;
        let source = match self.effective_policy_source {
            PolicySource::User => "granted",
            PolicySource::Site => "site",
            PolicySource::Global => "global",
        };
        lines.push(("EffectivePolicy", format!("{} ({source})", p.identity)));
        lines.push(("  Enabled", yes_no(p.enabled)));
        lines.push((
            "  UseAdminCallbackNumber",
            yes_no(p.use_admin_callback_number),
        ));
        lines.push((
            "  AdminCallbackNumber",
            p.admin_callback_number.clone().unwrap_or_default(),
        ));
        lines.push((
            "  AllowInternationalCallback",
            yes_no(p.allow_international_callback),
        ));
        lines.push(("  AllowPremiumCallback", yes_no(p.allow_premium_callback)));
        let callback = match (&self.callback_number, &self.callback_unavailable) {
            (Some(n), _) => n.clone(),
            (None, Some(why)) => format!("none: {why}"),
            (None, None) => String::new(),
        };
        lines.push(("CallbackNumber", callback));
        fields(&lines)
    }
}

/// `user list`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct UserList(pub Vec<UserView>);

impl Render for UserList {
    fn human(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|u| {
                vec![
                    u.sip_uri.clone(),
                    u.display_name.clone(),
                    u.line_uri.clone(),
                    yes_no(u.enterprise_voice),
                    yes_no(u.enabled),
                    u.role.clone(),
                    u.policy_grant.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "SIP ADDRESS",
                "DISPLAY NAME",
                "LINE URI",
                "EV",
                "ENABLED",
                "ROLE",
                "POLICY",
            ],
            &rows,
        )
    }
}

/// `user remove`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    /// The user removed.
    pub sip_uri: String,
}

impl Render for Removed {
    fn human(&self) -> String {
        format!("{} removed\n", self.sip_uri)
    }
}

/// The user with this SIP address, or [`AdminError::NotFound`] on `sipUri`.
pub async fn find_required(store: &dyn Store, sip_uri: &str) -> Result<UserRow, AdminError> {
    let uri: UserUri = sip_uri.parse()?;
    store
        .get_user_by_sip_uri(uri.as_str())
        .await?
        .ok_or_else(|| AdminError::not_found("sipUri", format!("no user {uri}")))
}

/// A new user's row before the input is applied: Skype's defaults for a user enabled for
/// Call Via Work (call forwarding, simultaneous ring and dial-in conferencing allowed).
pub(crate) fn blank_row(uri: &UserUri) -> UserRow {
    UserRow {
        sip_uri: uri.as_str().to_owned(),
        enabled: true,
        role: "user".to_owned(),
        allow_call_forwarding: true,
        allow_simultaneous_ring: true,
        dial_in_conferencing: true,
        ..UserRow::default()
    }
}

/// Optional free text: empty clears it.
fn text(field: &'static str, value: &str) -> Result<String, DomainError> {
    if value.trim().is_empty() {
        Ok(String::new())
    } else {
        Ok(ProfileText::new(field, value)?.as_str().to_owned())
    }
}

/// Applies `input` to `row` (whose SIP address is `uri`), checking every value. Hashes the
/// password last, once everything else has passed.
pub fn apply(row: &mut UserRow, uri: &UserUri, input: &UserInput) -> Result<(), DomainError> {
    if let Some(v) = &input.display_name {
        row.display_name = v.parse::<DisplayName>()?.as_str().to_owned();
    }
    if let Some(v) = &input.email {
        row.email = if v.trim().is_empty() {
            String::new()
        } else {
            v.parse::<Email>()?.as_str().to_owned()
        };
    }
    for (field, value, slot) in [
        ("title", &input.title, &mut row.title),
        ("department", &input.department, &mut row.department),
        ("office", &input.office, &mut row.office),
        ("phoneWork", &input.phone_work, &mut row.phone_work),
        ("phoneMobile", &input.phone_mobile, &mut row.phone_mobile),
        ("phoneHome", &input.phone_home, &mut row.phone_home),
        ("phoneOther", &input.phone_other, &mut row.phone_other),
    ] {
        if let Some(v) = value {
            *slot = text(field, v)?;
        }
    }
    if let Some(v) = &input.line_uri {
        row.line_uri = if v.trim().is_empty() {
            String::new()
        } else {
            v.parse::<LineUri>()?.to_string()
        };
    }
    if let Some(v) = &input.role {
        row.role = v.parse::<Role>()?.as_str().to_owned();
    }
    if let Some(v) = &input.site {
        row.site = if v.trim().is_empty() {
            None
        } else {
            Some(PolicyName::parse_field("site", v)?.as_str().to_owned())
        };
    }
    for (value, slot) in [
        (input.enterprise_voice, &mut row.enterprise_voice),
        (input.enabled, &mut row.enabled),
        (input.allow_call_forwarding, &mut row.allow_call_forwarding),
        (
            input.allow_simultaneous_ring,
            &mut row.allow_simultaneous_ring,
        ),
        (input.dial_in_conferencing, &mut row.dial_in_conferencing),
    ] {
        if let Some(v) = value {
            *slot = v;
        }
    }
    if let Some(v) = &input.pin {
        row.pin_hash = if v.is_empty() {
            None
        } else {
            let pin = crate::meetings::service::pin_for_user(&PinPolicy::default(), row, v)?;
            Some(pin.hash().as_phc().to_owned())
        };
    }
    if let Some(v) = &input.password {
        let password = Password::new(v)?;
        set_password(row, uri, &password, &PasswordHash::hash(&password))?;
    }
    Ok(())
}

/// Gives `row` (whose SIP address is `uri`) the web password `password`, already hashed as
/// `hash`, and the SIP digest HA1s derived from it for the user's own domain. The HA1s are
/// per user (they hash the user name); the argon2id `hash` is the slow part, which an import
/// giving many users the same initial password computes once.
pub fn set_password(
    row: &mut UserRow,
    uri: &UserUri,
    password: &Password,
    hash: &PasswordHash,
) -> Result<(), DomainError> {
    let sip = SipCredentials::new(uri, uri.domain(), password)?;
    row.password_hash = hash.as_phc().to_owned();
    row.ha1_md5 = Some(sip.ha1_md5().as_str().to_owned());
    row.ha1_sha256 = Some(sip.ha1_sha256().as_str().to_owned());
    row.sip_realm = Some(sip.realm().to_owned());
    Ok(())
}

/// `user new`: creates a user. The display name and password are required; a taken SIP
/// address is a conflict on `sipUri`.
pub async fn new_user(
    store: &dyn Store,
    sip_uri: &str,
    input: &UserInput,
) -> Result<UserView, AdminError> {
    let uri: UserUri = sip_uri.parse()?;
    if input.display_name.is_none() {
        return Err(DomainError::Required {
            field: "displayName",
        }
        .into());
    }
    if input.password.is_none() {
        return Err(DomainError::Required { field: "password" }.into());
    }
    if store.get_user_by_sip_uri(uri.as_str()).await?.is_some() {
        return Err(AdminError::conflict(
            "sipUri",
            format!("a user {uri} already exists"),
        ));
    }
    let mut row = blank_row(&uri);
    apply(&mut row, &uri, input)?;
    Ok(UserView::from(&store.create_user(&row).await?))
}

/// `user set`: changes the given fields of a user.
pub async fn set_user(
    store: &dyn Store,
    sip_uri: &str,
    input: &UserInput,
) -> Result<UserView, AdminError> {
    let mut row = find_required(store, sip_uri).await?;
    let uri: UserUri = row.sip_uri.parse()?;
    apply(&mut row, &uri, input)?;
    Ok(UserView::from(&store.update_user(&row).await?))
}

/// `user get`: the user with their effective policy and callback number.
pub async fn get_user(store: &dyn Store, sip_uri: &str) -> Result<UserDetails, AdminError> {
    let row = find_required(store, sip_uri).await?;
    let (policy, source) = policies::effective(store, &row).await?;
    let line: Option<LineUri> = row.line_uri.parse().ok();
    let (callback_number, callback_number_source, callback_unavailable) =
        match callback_number(&policy, None, line.as_ref()) {
            Ok(n) => (Some(n.to_string()), Some(n.source()), None),
            Err(e) => (None, None, Some(e.to_string())),
        };
    Ok(UserDetails {
        user: UserView::from(&row),
        effective_policy: PolicyView::from(&policy),
        effective_policy_source: source,
        callback_number,
        callback_number_source,
        callback_unavailable,
    })
}

/// `user list`: up to `limit` users by SIP address, after `after`.
pub async fn list_users(
    store: &dyn Store,
    after: Option<&str>,
    limit: u32,
) -> Result<UserList, AdminError> {
    let rows = store.list_users(after, limit).await?;
    Ok(UserList(rows.iter().map(UserView::from).collect()))
}

/// `user remove`: removes a user with their tokens and personal dial plan.
pub async fn remove_user(store: &dyn Store, sip_uri: &str) -> Result<Removed, AdminError> {
    let row = find_required(store, sip_uri).await?;
    store.remove_user(row.id).await?;
    Ok(Removed {
        sip_uri: row.sip_uri,
    })
}
