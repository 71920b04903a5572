//! Dial plans: ordered normalisation rules at global scope and per user
//! (`New-`/`Get-`/`Remove-CsVoiceNormalizationRule`), and the test verb that shows which rule
//! turns a typed number into what (`Test-CsVoiceNormalizationRule`).
//!
//! A user with rules of their own uses only those; everyone else uses the global rules
//! (Skype does not merge the two).

use serde::Serialize;

use super::output::{fields, table, yes_no, Render};
use super::users::find_required;
use super::AdminError;
use crate::domain::{DialPlan, DialPlanTest, DomainError, NormalizationRule, TrialOutcome};
use crate::store::{DialPlanRuleRow, Store, UserRow, GLOBAL_SCOPE};

/// A new rule for `dialplan rule new`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleInput {
    /// Name, unique in its plan (ignoring case).
    pub name: String,
    /// Regular expression matched against the whole cleaned input.
    pub pattern: String,
    /// Translation with `$1`..`$9`.
    pub translation: String,
    /// The result is an internal extension.
    #[serde(default)]
    pub is_internal_extension: bool,
    /// 0 = tried first; absent = last.
    pub position: Option<u32>,
}

/// A rule as shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    /// `global`, or the SIP address of the user whose plan it is in.
    pub scope: String,
    /// 0-based order.
    pub position: i64,
    /// Name.
    pub name: String,
    /// Pattern.
    pub pattern: String,
    /// Translation.
    pub translation: String,
    /// The result is an internal extension.
    pub is_internal_extension: bool,
}

impl RuleView {
    fn new(scope: &str, r: &DialPlanRuleRow) -> RuleView {
        RuleView {
            scope: scope.to_owned(),
            position: r.position,
            name: r.name.clone(),
            pattern: r.pattern.clone(),
            translation: r.translation.clone(),
            is_internal_extension: r.is_internal_extension,
        }
    }
}

impl Render for RuleView {
    fn human(&self) -> String {
        fields(&[
            ("Scope", self.scope.clone()),
            ("Position", self.position.to_string()),
            ("Name", self.name.clone()),
            ("Pattern", self.pattern.clone()),
            ("Translation", self.translation.clone()),
            ("IsInternalExtension", yes_no(self.is_internal_extension)),
        ])
    }
}

/// The rules of one plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct RuleList(pub Vec<RuleView>);

impl Render for RuleList {
    fn human(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|r| {
                vec![
                    r.position.to_string(),
                    r.name.clone(),
                    r.pattern.clone(),
                    r.translation.clone(),
                    yes_no(r.is_internal_extension),
                ]
            })
            .collect();
        table(&["#", "NAME", "PATTERN", "TRANSLATION", "EXTENSION"], &rows)
    }
}

/// `dialplan rule remove`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleRemoved {
    /// The plan.
    pub scope: String,
    /// The rule removed.
    pub name: String,
}

impl Render for RuleRemoved {
    fn human(&self) -> String {
        format!(
            "rule {} removed from the {} dial plan\n",
            self.name, self.scope
        )
    }
}

/// `dialplan test`: the plan used and the trial of each rule.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestView {
    /// `global`, or the SIP address whose own plan was used.
    pub dial_plan: String,
    /// The report.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub test: DialPlanTest,
}

impl Render for TestView {
    fn human(&self) -> String {
        let t = &self.test;
        let mut out = fields(&[
            ("DialPlan", self.dial_plan.clone()),
            ("Input", t.input.clone()),
            (
                "Cleaned",
                t.cleaned
                    .clone()
                    .unwrap_or_else(|| "(not a dialable string)".to_owned()),
            ),
        ]);
        let rows: Vec<Vec<String>> = t
            .trials
            .iter()
            .map(|trial| {
                let outcome = match &trial.outcome {
                    TrialOutcome::NoMatch => "no match".to_owned(),
                    TrialOutcome::Matched { result } => format!("matched: {result}"),
                    TrialOutcome::Unusable { translated, reason } => {
                        format!("matched, skipped: {translated} ({reason})")
                    }
                };
                vec![trial.rule_name.clone(), outcome]
            })
            .collect();
        if !rows.is_empty() {
            out.push_str(&table(&["RULE", "OUTCOME"], &rows));
        }
        let result = match &t.normalized {
            Some(n) => match &n.rule_name {
                Some(rule) => format!("{} (rule {rule})", n.result),
                None => format!("{} (already E.164)", n.result),
            },
            None => "NormalizationFailed".to_owned(),
        };
        out.push_str(&fields(&[("Result", result)]));
        out
    }
}

/// The rules of `scope` as a checked plan.
pub async fn load_plan(store: &dyn Store, scope: &str) -> Result<DialPlan, AdminError> {
    let rules = store
        .list_dial_plan_rules(scope)
        .await?
        .iter()
        .map(|r| {
            NormalizationRule::new(&r.name, &r.pattern, &r.translation, r.is_internal_extension)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(DialPlan::new(rules)?)
}

/// The store scope and its display name for `user` (global when `None`).
async fn scope(store: &dyn Store, user: Option<&str>) -> Result<(String, String), AdminError> {
    match user {
        None => Ok((GLOBAL_SCOPE.to_owned(), GLOBAL_SCOPE.to_owned())),
        Some(u) => {
            let row: UserRow = find_required(store, u).await?;
            Ok((row.id.to_string(), row.sip_uri))
        }
    }
}

/// `dialplan rule new`: adds a rule to the global plan or to `user`'s.
pub async fn new_rule(
    store: &dyn Store,
    user: Option<&str>,
    input: &RuleInput,
) -> Result<RuleView, AdminError> {
    let rule = NormalizationRule::new(
        &input.name,
        &input.pattern,
        &input.translation,
        input.is_internal_extension,
    )?;
    let (scope, shown) = scope(store, user).await?;
    let mut plan = load_plan(store, &scope).await?;
    let position = input.position.map(|p| p as usize);
    let at = position
        .unwrap_or(plan.rules().len())
        .min(plan.rules().len());
    plan.insert(position, rule.clone())?;
    let row = store
        .insert_dial_plan_rule(&DialPlanRuleRow {
            id: 0,
            scope,
            position: i64::try_from(at).unwrap_or(i64::MAX),
            name: rule.name().to_owned(),
            pattern: rule.pattern().to_owned(),
            translation: rule.translation().to_owned(),
            is_internal_extension: rule.is_internal_extension(),
        })
        .await?;
    Ok(RuleView::new(&shown, &row))
}

/// `dialplan rule list`: the rules of the global plan or of `user`'s, in order.
pub async fn list_rules(store: &dyn Store, user: Option<&str>) -> Result<RuleList, AdminError> {
    let (scope, shown) = scope(store, user).await?;
    let rows = store.list_dial_plan_rules(&scope).await?;
    Ok(RuleList(
        rows.iter().map(|r| RuleView::new(&shown, r)).collect(),
    ))
}

/// `dialplan rule remove`: removes the rule `name` (ignoring case).
pub async fn remove_rule(
    store: &dyn Store,
    user: Option<&str>,
    name: &str,
) -> Result<RuleRemoved, AdminError> {
    let (scope, shown) = scope(store, user).await?;
    let folded = name.trim().to_lowercase();
    if folded.is_empty() {
        return Err(DomainError::Required { field: "name" }.into());
    }
    let row = store
        .list_dial_plan_rules(&scope)
        .await?
        .into_iter()
        .find(|r| r.name.to_lowercase() == folded)
        .ok_or_else(|| {
            AdminError::not_found("name", format!("no rule {name:?} in the {shown} dial plan"))
        })?;
    store.remove_dial_plan_rule(row.id).await?;
    Ok(RuleRemoved {
        scope: shown,
        name: row.name,
    })
}

/// Changes the rule `name` (ignoring case) of the global plan or `user`'s to `input`: its
/// name, pattern, translation and kind, and its place when `input.position` is given (else
/// it keeps its own). Everything is checked against the plan without the old rule before
/// anything is written, and the store swaps the two in one transaction.
pub async fn replace_rule(
    store: &dyn Store,
    user: Option<&str>,
    name: &str,
    input: &RuleInput,
) -> Result<RuleView, AdminError> {
    let (scope, shown) = scope(store, user).await?;
    let folded = name.trim().to_lowercase();
    if folded.is_empty() {
        return Err(DomainError::Required { field: "name" }.into());
    }
    let old = store
        .list_dial_plan_rules(&scope)
        .await?
        .into_iter()
        .find(|r| r.name.to_lowercase() == folded)
        .ok_or_else(|| {
            AdminError::not_found("name", format!("no rule {name:?} in the {shown} dial plan"))
        })?;
    let rule = NormalizationRule::new(
        &input.name,
        &input.pattern,
        &input.translation,
        input.is_internal_extension,
    )?;
    let mut plan = load_plan(store, &scope).await?;
    plan.remove(&old.name);
    let position = input
        .position
        .map(|p| p as usize)
        .unwrap_or(usize::try_from(old.position).unwrap_or(usize::MAX));
    plan.insert(Some(position), rule.clone())?;
    let at = position.min(plan.rules().len() - 1);
    let row = store
        .replace_dial_plan_rule(
            old.id,
            &DialPlanRuleRow {
                id: 0,
                scope,
                position: i64::try_from(at).unwrap_or(i64::MAX),
                name: rule.name().to_owned(),
                pattern: rule.pattern().to_owned(),
                translation: rule.translation().to_owned(),
                is_internal_extension: rule.is_internal_extension(),
            },
        )
        .await?;
    Ok(RuleView::new(&shown, &row))
}

/// What `dialplan rule set` changes: the members given; the others stay as they are.
#[derive(Debug, Clone, Default)]
pub struct RuleChange {
    /// A new name.
    pub name: Option<String>,
    /// A new pattern.
    pub pattern: Option<String>,
    /// A new translation.
    pub translation: Option<String>,
    /// Whether the result is an internal extension.
    pub is_internal_extension: Option<bool>,
    /// A new place (0 = tried first).
    pub position: Option<u32>,
}

/// `dialplan rule set` (`Set-CsVoiceNormalizationRule`): changes the members `change`
/// gives of the rule `name`, through [`replace_rule`].
pub async fn set_rule(
    store: &dyn Store,
    user: Option<&str>,
    name: &str,
    change: &RuleChange,
) -> Result<RuleView, AdminError> {
    let folded = name.trim().to_lowercase();
    let current = list_rules(store, user)
        .await?
        .0
        .into_iter()
        .find(|r| r.name.to_lowercase() == folded)
        .ok_or_else(|| {
            AdminError::not_found("name", format!("no rule {name:?} in that dial plan"))
        })?;
    let input = RuleInput {
        name: change.name.clone().unwrap_or(current.name),
        pattern: change.pattern.clone().unwrap_or(current.pattern),
        translation: change.translation.clone().unwrap_or(current.translation),
        is_internal_extension: change
            .is_internal_extension
            .unwrap_or(current.is_internal_extension),
        position: change.position,
    };
    replace_rule(store, user, name, &input).await
}

/// `dialplan test`: normalises `number` with `user`'s effective plan (their own rules if
/// they have any, else the global ones), or with the global plan.
pub async fn test(
    store: &dyn Store,
    user: Option<&str>,
    number: &str,
) -> Result<TestView, AdminError> {
    let (scope, shown) = scope(store, user).await?;
    let mut plan = load_plan(store, &scope).await?;
    let mut dial_plan = shown;
    if scope != GLOBAL_SCOPE && plan.rules().is_empty() {
        plan = load_plan(store, GLOBAL_SCOPE).await?;
        dial_plan = GLOBAL_SCOPE.to_owned();
    }
    Ok(TestView {
        dial_plan,
        test: plan.test(number),
    })
}
