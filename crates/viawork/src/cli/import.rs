//! Imports from Skype for Business exports: users from `Get-CsUser | Export-Csv` and
//! policies from `Get-CsCallViaWorkPolicy | Export-Csv`.
//!
//! Every row is checked first. A bad row is reported with its line number and why; unless
//! the caller asks to skip bad rows, nothing is imported when any row is bad (and the users
//! are written all-or-nothing in one transaction). Columns are matched by name ignoring
//! case; columns ViaWork has no use for (`Identity`, `RegistrarPool`, `VoicePolicy`, ...) are
//! ignored. Imported users have no password until one is set with `user set --password`,
//! unless the import is given one initial password for every user it creates: that is hashed
//! (argon2id) once and the same hash stored for each of them, with each user's own SIP digest
//! HA1s. Hashing per user would cost tens of milliseconds each (10,000 users: minutes) and
//! protect nothing more, since the password is the same; each user should later get their
//! own (`user set --password`).
//!
//! User columns: `SipAddress` (required), `DisplayName`, `LineURI`, `EnterpriseVoiceEnabled`,
//! `Enabled`, `WindowsEmailAddress` (or `Email`), `Title`, `Department`, `Office`, `Phone`,
//! `MobilePhone`, `HomePhone`, `OtherTelephone`, `CallViaWorkPolicy` (a granted `Tag:`
//! policy, which must exist) and `Site`.
//!
//! Policy columns: `Identity` (required), `Enabled`, `UseAdminCallbackNumber`,
//! `AdminCallbackNumber`. Existing policies (always `Global`) are updated, others created.
//! Skype has no `AllowInternationalCallback` / `AllowPremiumCallback` (ViaWork extensions):
//! an imported policy, created or updated, has both false.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::csv::{self, Record, Table};
use super::output::{table, Render};
use super::policies::{self, PolicyInput};
use super::users::{self, UserInput};
use super::AdminError;
use crate::domain::{
    CallViaWorkPolicy, DomainError, Password, PasswordHash, PolicyIdentity, PolicyName,
    PolicySettings, UserUri,
};
use crate::store::{ImportRowResult, PolicyRow, Store, UserRow};

/// The outcome of one row.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowReport {
    /// The line the row starts on.
    pub line: usize,
    /// The row's key (SIP address or policy identity) as written.
    pub key: String,
    /// `created`, `updated`, `failed` or `notImported` (a good row left out because
    /// another row failed).
    #[schema(value_type = String)]
    pub status: &'static str,
    /// The field at fault, for a failed row.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub field: Option<&'static str>,
    /// Why the row failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The outcome of an import.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    /// Whether anything was written.
    pub committed: bool,
    /// Rows written.
    pub imported: usize,
    /// Rows refused.
    pub failed: usize,
    /// One report per data row, in file order.
    pub rows: Vec<RowReport>,
}

impl ImportView {
    fn new(committed: bool, rows: Vec<RowReport>) -> ImportView {
        ImportView {
            committed,
            imported: rows
                .iter()
                .filter(|r| matches!(r.status, "created" | "updated"))
                .count(),
            failed: rows.iter().filter(|r| r.status == "failed").count(),
            rows,
        }
    }
}

impl Render for ImportView {
    fn human(&self) -> String {
        let bad: Vec<Vec<String>> = self
            .rows
            .iter()
            .filter(|r| r.status == "failed")
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.key.clone(),
                    r.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let mut out = String::new();
        if !bad.is_empty() {
            out.push_str(&table(&["LINE", "ROW", "PROBLEM"], &bad));
        }
        if self.committed {
            out.push_str(&format!(
                "imported {} row(s), skipped {} bad row(s)\n",
                self.imported, self.failed
            ));
        } else {
            out.push_str(&format!(
                "{} bad row(s); nothing imported (fix them, or use --skip-bad-rows to import \
                 the good rows only)\n",
                self.failed
            ));
        }
        out
    }
}

fn failed(line: usize, key: &str, e: &AdminError) -> RowReport {
    RowReport {
        line,
        key: key.to_owned(),
        status: "failed",
        field: e.field(),
        error: Some(e.to_string()),
    }
}

fn parse_table(source: &str, text: &str) -> Result<Table, AdminError> {
    csv::parse(text).map_err(|e| AdminError::File {
        path: source.to_owned(),
        message: e.to_string(),
    })
}

fn required_column(source: &str, t: &Table, names: &[&str]) -> Result<usize, AdminError> {
    t.column(names).ok_or_else(|| AdminError::File {
        path: source.to_owned(),
        message: format!("the header has no {} column", names[0]),
    })
}

/// The value of a column of a record (empty when the column or the field is missing;
/// PowerShell writes `$null` as an empty field).
fn cell(r: &Record, column: Option<usize>) -> &str {
    column
        .and_then(|c| r.fields.get(c))
        .map_or("", |s| s.as_str())
}

/// A PowerShell boolean as exported (`True`/`False`); empty is `None`.
fn boolean(field: &'static str, s: &str) -> Result<Option<bool>, DomainError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "$true" | "1" | "yes" => Ok(Some(true)),
        "false" | "$false" | "0" | "no" => Ok(Some(false)),
        _ => Err(DomainError::invalid(
            field,
            format!("{s:?} is not True or False"),
        )),
    }
}

fn optional(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Imports users from a `Get-CsUser | Export-Csv` file's `text` (`source` names it in
/// errors). With `skip_bad_rows` the good rows are imported and the bad ones reported;
/// otherwise one bad row means none is imported. With `initial_password` every created
/// user gets that web and SIP password (hashed once for all of them).
pub async fn import_users(
    store: &dyn Store,
    source: &str,
    text: &str,
    skip_bad_rows: bool,
    initial_password: Option<&Password>,
) -> Result<ImportView, AdminError> {
    let t = parse_table(source, text)?;
    let sip = required_column(source, &t, &["SipAddress", "SipUri"])?;
    let col = |names: &[&str]| t.column(names);
    let (name, line_uri, ev, enabled) = (
        col(&["DisplayName", "Name"]),
        col(&["LineURI"]),
        col(&["EnterpriseVoiceEnabled"]),
        col(&["Enabled"]),
    );
    let (email, title, department, office) = (
        col(&["WindowsEmailAddress", "Email", "EmailAddress", "Mail"]),
        col(&["Title"]),
        col(&["Department"]),
        col(&["Office", "PhysicalDeliveryOfficeName"]),
    );
    let (phone, mobile, home, other) = (
        col(&["Phone", "TelephoneNumber"]),
        col(&["MobilePhone", "Mobile"]),
        col(&["HomePhone"]),
        col(&["OtherTelephone", "OtherPhone"]),
    );
    let (policy, site) = (col(&["CallViaWorkPolicy"]), col(&["Site"]));
    let password = initial_password.map(|p| (p, PasswordHash::hash(p)));

    // Policies that can be granted, by folded identity.
    let tags: HashMap<String, String> = store
        .list_policies()
        .await?
        .into_iter()
        .filter_map(|p| {
            let key = p.identity.parse::<PolicyIdentity>().ok()?.key();
            Some((key, p.identity))
        })
        .collect();

    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    let mut good: Vec<(usize, UserRow)> = Vec::new();
    for r in &t.records {
        let key = cell(r, Some(sip)).trim().to_owned();
        let row = async {
            let uri: UserUri = key.parse()?;
            if !seen.insert(uri.clone()) {
                return Err(AdminError::conflict(
                    "sipUri",
                    format!("{uri} appears on an earlier line too"),
                ));
            }
            if store.get_user_by_sip_uri(uri.as_str()).await?.is_some() {
                return Err(AdminError::conflict(
                    "sipUri",
                    format!("a user {uri} already exists"),
                ));
            }
            let input = UserInput {
                display_name: Some(cell(r, name).to_owned()),
                email: optional(cell(r, email)),
                line_uri: optional(cell(r, line_uri)),
                enterprise_voice: boolean("enterpriseVoice", cell(r, ev))?,
                enabled: boolean("enabled", cell(r, enabled))?,
                title: optional(cell(r, title)),
                department: optional(cell(r, department)),
                office: optional(cell(r, office)),
                phone_work: optional(cell(r, phone)),
                phone_mobile: optional(cell(r, mobile)),
                phone_home: optional(cell(r, home)),
                phone_other: optional(cell(r, other)),
                site: optional(cell(r, site)),
                ..UserInput::default()
            };
            let mut row = users::blank_row(&uri);
            users::apply(&mut row, &uri, &input)?;
            let grant = cell(r, policy).trim();
            if !grant.is_empty() && !grant.eq_ignore_ascii_case("$null") {
                let identity = PolicyIdentity::Tag(PolicyName::parse_grant(grant)?);
                let stored = tags.get(&identity.key()).ok_or_else(|| {
                    AdminError::not_found("policyName", format!("no policy {identity}"))
                })?;
                row.policy_grant = Some(stored.clone());
            }
            if let Some((password, hash)) = &password {
                users::set_password(&mut row, &uri, password, hash)?;
            }
            Ok::<_, AdminError>(row)
        }
        .await;
        match row {
            Ok(row) => {
                reports.push(RowReport {
                    line: r.line,
                    key,
                    status: "notImported",
                    field: None,
                    error: None,
                });
                good.push((reports.len() - 1, row));
            }
            Err(e) => reports.push(failed(r.line, &key, &e)),
        }
    }
    let any_bad = reports.iter().any(|r| r.status == "failed");
    if (any_bad && !skip_bad_rows) || good.is_empty() {
        return Ok(ImportView::new(false, reports));
    }
    let rows: Vec<UserRow> = good.iter().map(|(_, row)| row.clone()).collect();
    let result = store.import_users(&rows, !skip_bad_rows).await?;
    for ((i, _), outcome) in good.iter().zip(result.rows) {
        let report = &mut reports[*i];
        match outcome {
            ImportRowResult::Created { .. } => report.status = "created",
            ImportRowResult::RolledBack => report.status = "notImported",
            ImportRowResult::Failed(e) => {
                *report = failed(report.line, &report.key, &AdminError::from(e));
            }
        }
    }
    Ok(ImportView::new(result.committed, reports))
}

/// Imports policies from a `Get-CsCallViaWorkPolicy | Export-Csv` file's `text`. Existing
/// policies are updated, others created; bad rows as for [`import_users`].
pub async fn import_policies(
    store: &dyn Store,
    source: &str,
    text: &str,
    skip_bad_rows: bool,
) -> Result<ImportView, AdminError> {
    let t = parse_table(source, text)?;
    let id_col = required_column(source, &t, &["Identity"])?;
    let enabled = t.column(&["Enabled"]);
    let use_admin = t.column(&["UseAdminCallbackNumber"]);
    let number = t.column(&["AdminCallbackNumber"]);

    let mut seen = HashSet::new();
    let mut reports = Vec::new();
    let mut good: Vec<(usize, CallViaWorkPolicy, Option<PolicyRow>)> = Vec::new();
    for r in &t.records {
        let key = cell(r, Some(id_col)).trim().to_owned();
        let checked = async {
            let identity: PolicyIdentity = key.parse()?;
            if !seen.insert(identity.key()) {
                return Err(AdminError::conflict(
                    "identity",
                    format!("{identity} appears on an earlier line too"),
                ));
            }
            let input = PolicyInput {
                enabled: boolean("enabled", cell(r, enabled))?,
                use_admin_callback_number: boolean("useAdminCallbackNumber", cell(r, use_admin))?,
                ..PolicyInput::default()
            };
            let admin_callback_number =
                policies::admin_callback_number(store, cell(r, number)).await?;
            let policy = CallViaWorkPolicy::new(
                identity.clone(),
                PolicySettings {
                    enabled: input.enabled.unwrap_or(false),
                    use_admin_callback_number: input.use_admin_callback_number.unwrap_or(false),
                    admin_callback_number,
                    // ViaWork extensions: Skype's export has no such columns.
                    allow_international_callback: false,
                    allow_premium_callback: false,
                },
            )?;
            let existing = policies::find(store, &identity).await?;
            Ok::<_, AdminError>((policy, existing))
        }
        .await;
        match checked {
            Ok((policy, existing)) => {
                reports.push(RowReport {
                    line: r.line,
                    key,
                    status: "notImported",
                    field: None,
                    error: None,
                });
                good.push((reports.len() - 1, policy, existing));
            }
            Err(e) => reports.push(failed(r.line, &key, &e)),
        }
    }
    let any_bad = reports.iter().any(|r| r.status == "failed");
    if (any_bad && !skip_bad_rows) || good.is_empty() {
        return Ok(ImportView::new(false, reports));
    }
    // Policies are few; they are written one by one (each write is atomic).
    for (i, policy, existing) in &good {
        let row = PolicyRow {
            identity: existing
                .as_ref()
                .map_or_else(|| policy.identity().to_string(), |e| e.identity.clone()),
            enabled: policy.enabled(),
            use_admin_callback_number: policy.use_admin_callback_number(),
            admin_callback_number: policy.admin_callback_number().map(|n| n.to_string()),
            allow_international_callback: policy.allow_international_callback(),
            allow_premium_callback: policy.allow_premium_callback(),
        };
        let written = match existing {
            Some(_) => store.update_policy(&row).await.map(|_| "updated"),
            None => store.create_policy(&row).await.map(|_| "created"),
        };
        let report = &mut reports[*i];
        match written {
            Ok(status) => report.status = status,
            Err(e) => *report = failed(report.line, &report.key, &AdminError::from(e)),
        }
    }
    Ok(ImportView::new(true, reports))
}
