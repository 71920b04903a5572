//! Call Via Work policies and grants, with Skype's semantics (`New-`, `Set-`, `Get-`,
//! `Remove-` and `Grant-CsCallViaWorkPolicy`): `Global` always exists, cannot be created and
//! is reset rather than removed; `Site:` and `Tag:` policies are created and removed; only
//! `Tag:` policies are granted, and granting none returns a user to their site's or the
//! global policy. Identities compare case-insensitively (`tag:sales` is `Tag:Sales`).

use serde::{Deserialize, Serialize};

use super::output::{fields, table, yes_no, Render};
use super::AdminError;
use crate::domain::{
    CallViaWorkPolicy, DialPlan, DomainError, PolicyIdentity, PolicyName, PolicyPatch,
    PolicySettings, E164,
};
use crate::store::{PolicyRemoval, PolicyRow, Store, UserRow, GLOBAL_SCOPE};

/// Settings given to `policy new` / `policy set` (absent = unchanged, or the default for a
/// new policy). `adminCallbackNumber` is digits with an optional leading `+`; digits without
/// it go through the global dial plan; an empty value clears it. `allowInternationalCallback`
/// and `allowPremiumCallback` are ViaWork extensions (see [`crate::domain::PolicySettings`]).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyInput {
    /// `Enabled`.
    pub enabled: Option<bool>,
    /// `UseAdminCallbackNumber`.
    pub use_admin_callback_number: Option<bool>,
    /// `AdminCallbackNumber`.
    pub admin_callback_number: Option<String>,
    /// `AllowInternationalCallback` (ViaWork extension).
    pub allow_international_callback: Option<bool>,
    /// `AllowPremiumCallback` (ViaWork extension).
    pub allow_premium_callback: Option<bool>,
}

/// A policy as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyView {
    /// `Global`, `Site:Name` or `Tag:Name`.
    pub identity: String,
    /// Call Via Work is allowed.
    pub enabled: bool,
    /// Only the admin callback number may be rung first.
    pub use_admin_callback_number: bool,
    /// The admin callback number, E.164.
    pub admin_callback_number: Option<String>,
    /// A number the user chooses may be abroad (ViaWork extension).
    pub allow_international_callback: bool,
    /// A number the user chooses may be premium-rate (ViaWork extension).
    pub allow_premium_callback: bool,
}

impl From<&PolicyRow> for PolicyView {
    fn from(p: &PolicyRow) -> Self {
        PolicyView {
            identity: p.identity.clone(),
            enabled: p.enabled,
            use_admin_callback_number: p.use_admin_callback_number,
            admin_callback_number: p.admin_callback_number.clone(),
            allow_international_callback: p.allow_international_callback,
            allow_premium_callback: p.allow_premium_callback,
        }
    }
}

impl From<&CallViaWorkPolicy> for PolicyView {
    fn from(p: &CallViaWorkPolicy) -> Self {
        PolicyView {
            identity: p.identity().to_string(),
            enabled: p.enabled(),
            use_admin_callback_number: p.use_admin_callback_number(),
            admin_callback_number: p.admin_callback_number().map(|n| n.to_string()),
            allow_international_callback: p.allow_international_callback(),
            allow_premium_callback: p.allow_premium_callback(),
        }
    }
}

impl PolicyView {
    pub(crate) fn lines(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Identity", self.identity.clone()),
            ("Enabled", yes_no(self.enabled)),
            (
                "UseAdminCallbackNumber",
                yes_no(self.use_admin_callback_number),
            ),
            (
                "AdminCallbackNumber",
                self.admin_callback_number.clone().unwrap_or_default(),
            ),
            (
                "AllowInternationalCallback",
                yes_no(self.allow_international_callback),
            ),
            ("AllowPremiumCallback", yes_no(self.allow_premium_callback)),
        ]
    }
}

impl Render for PolicyView {
    fn human(&self) -> String {
        fields(&self.lines())
    }
}

/// All policies, `Global` first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct PolicyList(pub Vec<PolicyView>);

impl Render for PolicyList {
    fn human(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|p| {
                vec![
                    p.identity.clone(),
                    yes_no(p.enabled),
                    yes_no(p.use_admin_callback_number),
                    p.admin_callback_number.clone().unwrap_or_default(),
                    yes_no(p.allow_international_callback),
                    yes_no(p.allow_premium_callback),
                ]
            })
            .collect();
        table(
            &[
                "IDENTITY",
                "ENABLED",
                "USE ADMIN NUMBER",
                "ADMIN CALLBACK NUMBER",
                "ALLOW INTERNATIONAL",
                "ALLOW PREMIUM",
            ],
            &rows,
        )
    }
}

/// What `policy remove` did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemovalView {
    /// The policy.
    pub identity: String,
    /// `removed`, or `reset` for Global.
    pub outcome: &'static str,
    /// How many users held the removed policy and now fall back to site/global.
    pub grants_cleared: u64,
}

impl Render for RemovalView {
    fn human(&self) -> String {
        match self.outcome {
            "reset" => format!("{} reset to its defaults\n", self.identity),
            _ => format!(
                "{} removed; {} user(s) returned to their site or global policy\n",
                self.identity, self.grants_cleared
            ),
        }
    }
}

/// What `policy grant` did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    /// The user.
    pub sip_uri: String,
    /// The granted policy, or none.
    pub policy_name: Option<String>,
}

impl Render for GrantView {
    fn human(&self) -> String {
        match &self.policy_name {
            Some(p) => format!("{} granted {p}\n", self.sip_uri),
            None => format!(
                "{} holds no policy: their site or the global policy applies\n",
                self.sip_uri
            ),
        }
    }
}

/// The stored row of `identity`, found case-insensitively.
pub async fn find(
    store: &dyn Store,
    identity: &PolicyIdentity,
) -> Result<Option<PolicyRow>, AdminError> {
    if let Some(row) = store.get_policy(&identity.to_string()).await? {
        return Ok(Some(row));
    }
    let key = identity.key();
    Ok(store.list_policies().await?.into_iter().find(|row| {
        row.identity
            .parse::<PolicyIdentity>()
            .is_ok_and(|i| i.key() == key)
    }))
}

async fn find_required(store: &dyn Store, identity: &str) -> Result<PolicyRow, AdminError> {
    let identity: PolicyIdentity = identity.parse()?;
    find(store, &identity)
        .await?
        .ok_or_else(|| AdminError::not_found("identity", format!("no policy {identity}")))
}

/// The domain policy of a stored row.
pub fn to_domain(row: &PolicyRow) -> Result<CallViaWorkPolicy, AdminError> {
    let identity: PolicyIdentity = row.identity.parse()?;
    let admin_callback_number = row
        .admin_callback_number
        .as_deref()
        .map(|n| E164::parse_field("adminCallbackNumber", n))
        .transpose()?;
    Ok(CallViaWorkPolicy::new(
        identity,
        PolicySettings {
            enabled: row.enabled,
            use_admin_callback_number: row.use_admin_callback_number,
            admin_callback_number,
            allow_international_callback: row.allow_international_callback,
            allow_premium_callback: row.allow_premium_callback,
        },
    )?)
}

fn to_row(policy: &CallViaWorkPolicy, stored_identity: Option<&str>) -> PolicyRow {
    PolicyRow {
        identity: stored_identity.map_or_else(|| policy.identity().to_string(), str::to_owned),
        enabled: policy.enabled(),
        use_admin_callback_number: policy.use_admin_callback_number(),
        admin_callback_number: policy.admin_callback_number().map(|n| n.to_string()),
        allow_international_callback: policy.allow_international_callback(),
        allow_premium_callback: policy.allow_premium_callback(),
    }
}

/// Reads an `AdminCallbackNumber` as Skype takes it: digits with an optional leading `+`.
/// With the `+` it must be E.164; without it, the global dial plan must normalise it.
/// Empty (or `none`) means no number.
pub async fn admin_callback_number(
    store: &dyn Store,
    input: &str,
) -> Result<Option<E164>, AdminError> {
    const FIELD: &str = "adminCallbackNumber";
    let input = input.trim();
    if input.is_empty() || input.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if input.starts_with('+') {
        return Ok(Some(E164::parse_field(FIELD, input)?));
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(
            DomainError::invalid(FIELD, "must be digits with an optional leading +").into(),
        );
    }
    let plan = global_plan(store).await?;
    Ok(Some(plan.normalize_to_e164(FIELD, input)?))
}

async fn global_plan(store: &dyn Store) -> Result<DialPlan, AdminError> {
    super::dialplan::load_plan(store, GLOBAL_SCOPE).await
}

async fn patch(store: &dyn Store, input: &PolicyInput) -> Result<PolicyPatch, AdminError> {
    let admin_callback_number = match &input.admin_callback_number {
        Some(n) => Some(admin_callback_number(store, n).await?),
        None => None,
    };
    Ok(PolicyPatch {
        enabled: input.enabled,
        use_admin_callback_number: input.use_admin_callback_number,
        admin_callback_number,
        allow_international_callback: input.allow_international_callback,
        allow_premium_callback: input.allow_premium_callback,
    })
}

/// `New-CsCallViaWorkPolicy`: creates a `Site:` or `Tag:` policy.
pub async fn new_policy(
    store: &dyn Store,
    identity: &str,
    input: &PolicyInput,
) -> Result<PolicyView, AdminError> {
    let identity: PolicyIdentity = identity.parse()?;
    let blank = CallViaWorkPolicy::create(identity.clone(), PolicySettings::default())?;
    let policy = blank.apply(&patch(store, input).await?)?;
    if find(store, &identity).await?.is_some() {
        return Err(AdminError::conflict(
            "identity",
            format!("a policy {identity} already exists; change it with policy set"),
        ));
    }
    let row = store.create_policy(&to_row(&policy, None)).await?;
    Ok(PolicyView::from(&row))
}

/// `Set-CsCallViaWorkPolicy`: changes the given settings of a policy.
pub async fn set_policy(
    store: &dyn Store,
    identity: &str,
    input: &PolicyInput,
) -> Result<PolicyView, AdminError> {
    let row = find_required(store, identity).await?;
    let policy = to_domain(&row)?.apply(&patch(store, input).await?)?;
    let row = store
        .update_policy(&to_row(&policy, Some(&row.identity)))
        .await?;
    Ok(PolicyView::from(&row))
}

/// `Get-CsCallViaWorkPolicy -Identity`.
pub async fn get_policy(store: &dyn Store, identity: &str) -> Result<PolicyView, AdminError> {
    Ok(PolicyView::from(&find_required(store, identity).await?))
}

/// `Get-CsCallViaWorkPolicy`: all policies, `Global` first.
pub async fn list_policies(store: &dyn Store) -> Result<PolicyList, AdminError> {
    let rows = store.list_policies().await?;
    Ok(PolicyList(rows.iter().map(PolicyView::from).collect()))
}

/// `Remove-CsCallViaWorkPolicy`: deletes a policy (clearing its grants), or resets `Global`.
pub async fn remove_policy(store: &dyn Store, identity: &str) -> Result<RemovalView, AdminError> {
    let row = find_required(store, identity).await?;
    let (outcome, grants_cleared) = match store.remove_policy(&row.identity).await? {
        PolicyRemoval::Reset => ("reset", 0),
        PolicyRemoval::Removed { grants_cleared } => ("removed", grants_cleared),
    };
    Ok(RemovalView {
        identity: row.identity,
        outcome,
        grants_cleared,
    })
}

/// `Grant-CsCallViaWorkPolicy`: grants the `Tag:` policy `policy` (`Tag:Sales` or `Sales`)
/// to a user; `None`, empty or `none` clears the grant.
pub async fn grant(
    store: &dyn Store,
    sip_uri: &str,
    policy: Option<&str>,
) -> Result<GrantView, AdminError> {
    let user = super::users::find_required(store, sip_uri).await?;
    let policy = policy
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("none"));
    let stored = match policy {
        None => None,
        Some(p) => {
            let identity = PolicyIdentity::Tag(PolicyName::parse_grant(p)?);
            let row = find(store, &identity).await?.ok_or_else(|| {
                AdminError::not_found("policyName", format!("no policy {identity}"))
            })?;
            Some(row.identity)
        }
    };
    let user = store.set_policy_grant(user.id, stored.as_deref()).await?;
    Ok(GrantView {
        sip_uri: user.sip_uri,
        policy_name: user.policy_grant,
    })
}

/// Where a user's effective policy came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum PolicySource {
    /// A `Tag:` policy granted to the user.
    User,
    /// The `Site:` policy of the user's site.
    Site,
    /// The `Global` policy.
    Global,
}

/// The policy that applies to `user`: their grant, else their site's, else Global.
pub async fn effective(
    store: &dyn Store,
    user: &UserRow,
) -> Result<(CallViaWorkPolicy, PolicySource), AdminError> {
    if let Some(grant) = &user.policy_grant {
        if let Some(row) = store.get_policy(grant).await? {
            return Ok((to_domain(&row)?, PolicySource::User));
        }
    }
    if let Some(site) = &user.site {
        let identity = PolicyIdentity::Site(PolicyName::parse_field("site", site)?);
        if let Some(row) = find(store, &identity).await? {
            return Ok((to_domain(&row)?, PolicySource::Site));
        }
    }
    let global = match store.get_policy(crate::store::GLOBAL_POLICY).await? {
        Some(row) => to_domain(&row)?,
        None => CallViaWorkPolicy::default_global(),
    };
    Ok((global, PolicySource::Global))
}
