//! Dial plans: ordered normalisation rules that turn what people type into an E.164 number
//! or an internal extension, like Skype's `CsDialPlan` and `CsVoiceNormalizationRule`.
//!
//! Evaluation, for one input:
//!
//! 1. Clean it: trim, drop a leading `tel:`, remove the visual separators people type
//!    (spaces, `-`, `.`, `(`, `)`). What remains must be digits, `*` and `#`, with an
//!    optional leading `+`, at most 64 characters; anything else cannot be normalised.
//! 2. Try the rules in order. A rule's pattern always matches the *whole* cleaned input (it
//!    is compiled as `^(?:pattern)$`, so writing the anchors is optional). The first rule
//!    that matches and whose translation yields a dialable result wins. A rule that matches
//!    but yields something undialable (its groups captured a `*`, say) is reported by
//!    [`DialPlan::test`] and skipped.
//! 3. If no rule applied and the cleaned input already is E.164 (`+14255550101`), it is
//!    its own result. Otherwise: [`NormalizationFailed`].
//!
//! Rules are checked when they are made, so a plan in hand cannot fail at call time:
//!
//! - the name is 1–128 characters of printable text, unique in the plan (ignoring case);
//! - the pattern is a valid regular expression of at most 1024 characters whose compiled
//!   program is small (a pattern like `(\d{1,100}){100}` is refused, not compiled into
//!   megabytes), compiled once;
//! - the translation is digits and `$1`..`$9` references to groups the pattern has; for an
//!   ordinary rule it starts with `+` (its result must be E.164), for an internal-extension
//!   rule it does not (its result is an extension, 1–15 digits).
//!
//! Scopes follow Skype: a plan granted to a user replaces the global plan for that user
//! (rules are not merged), see [`DialPlan::effective`].

use super::e164::E164;
use super::error::{preview, DomainError, ShowChar};
use super::extension::Extension;
use super::text::bounded_text;
use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Largest compiled program a pattern may need, in bytes.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Largest lazy-DFA cache a pattern may use, in bytes.
const REGEX_DFA_LIMIT: usize = 1024 * 1024;
/// Longest pattern text.
const MAX_PATTERN_CHARS: usize = 1024;
/// Longest translation text.
const MAX_TRANSLATION_CHARS: usize = 64;
/// Longest rule name.
const MAX_NAME_CHARS: usize = 128;
/// Longest cleaned input a plan looks at.
const MAX_INPUT_CHARS: usize = 64;

/// What a dial plan turns a number into.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Dialable {
    /// A global number, to dial through the gateway.
    E164(E164),
    /// An internal extension on the PBX.
    Extension(Extension),
}

impl fmt::Display for Dialable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dialable::E164(n) => n.fmt(f),
            Dialable::Extension(x) => x.fmt(f),
        }
    }
}

/// A successful normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Normalized {
    /// The rule that applied; `None` when the input was already E.164 and no rule applied.
    pub rule_name: Option<String>,
    /// The number to dial.
    pub result: Dialable,
}

/// No rule of the plan normalises the input (UCWA's `NormalizationFailed`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no dial plan rule normalises {input:?}")]
pub struct NormalizationFailed {
    /// The input as given (a preview of at most 40 characters for long input).
    pub input: String,
}

impl NormalizationFailed {
    fn new(input: &str) -> NormalizationFailed {
        NormalizationFailed {
            input: preview(input),
        }
    }

    /// As a [`DomainError`] blamed on `field` (`to`, `phoneNumber`, ...).
    pub fn in_field(self, field: &'static str) -> DomainError {
        DomainError::NormalizationFailed {
            field,
            input: self.input,
        }
    }
}

/// Blames field `number`.
impl From<NormalizationFailed> for DomainError {
    fn from(e: NormalizationFailed) -> DomainError {
        e.in_field("number")
    }
}

/// A piece of a parsed translation.
#[derive(Debug, Clone)]
enum Piece {
    Literal(String),
    Group(usize),
}

/// One normalisation rule: when `pattern` matches the whole cleaned input, `translation`
/// (with `$1`..`$9` replaced by the pattern's groups) is the result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RuleFields", into = "RuleFields")]
pub struct NormalizationRule {
    name: String,
    pattern: String,
    translation: String,
    is_internal_extension: bool,
    regex: Regex,
    pieces: Vec<Piece>,
}

/// The serialised form of [`NormalizationRule`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RuleFields {
    name: String,
    pattern: String,
    translation: String,
    #[serde(default)]
    is_internal_extension: bool,
}

impl NormalizationRule {
    /// Checks and compiles a rule (errors in fields `name`, `pattern` or `translation`).
    pub fn new(
        name: &str,
        pattern: &str,
        translation: &str,
        is_internal_extension: bool,
    ) -> Result<NormalizationRule, DomainError> {
        let name = bounded_text("name", name, MAX_NAME_CHARS)?;
        let (regex, groups) = compile(pattern)?;
        let pieces = parse_translation(translation, groups, is_internal_extension)?;
        Ok(NormalizationRule {
            name,
            pattern: pattern.to_owned(),
            translation: translation.to_owned(),
            is_internal_extension,
            regex,
            pieces,
        })
    }

    /// The rule's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The translation as written.
    pub fn translation(&self) -> &str {
        &self.translation
    }

    /// True when the rule's result is an internal extension rather than an E.164 number.
    pub fn is_internal_extension(&self) -> bool {
        self.is_internal_extension
    }

    /// Applies the rule to a cleaned input.
    fn apply(&self, cleaned: &str) -> TrialOutcome {
        let Some(caps) = self.regex.captures(cleaned) else {
            return TrialOutcome::NoMatch;
        };
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Group(i) => out.push_str(caps.get(*i).map_or("", |m| m.as_str())),
            }
        }
        let result = if self.is_internal_extension {
            Extension::parse_field("translation", &out).map(Dialable::Extension)
        } else {
            E164::parse_field("translation", &out).map(Dialable::E164)
        };
        match result {
            Ok(d) => TrialOutcome::Matched { result: d },
            Err(e) => TrialOutcome::Unusable {
                translated: out,
                reason: e.message(),
            },
        }
    }
}

/// Two rules are equal when they are written the same.
impl PartialEq for NormalizationRule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.pattern == other.pattern
            && self.translation == other.translation
            && self.is_internal_extension == other.is_internal_extension
    }
}

impl Eq for NormalizationRule {}

impl TryFrom<RuleFields> for NormalizationRule {
    type Error = DomainError;
    fn try_from(f: RuleFields) -> Result<Self, Self::Error> {
        NormalizationRule::new(&f.name, &f.pattern, &f.translation, f.is_internal_extension)
    }
}

impl From<NormalizationRule> for RuleFields {
    fn from(r: NormalizationRule) -> Self {
        RuleFields {
            name: r.name,
            pattern: r.pattern,
            translation: r.translation,
            is_internal_extension: r.is_internal_extension,
        }
    }
}

fn build(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_LIMIT)
        .build()
}

/// Compiles `pattern` anchored at both ends; returns it and its number of groups.
fn compile(pattern: &str) -> Result<(Regex, usize), DomainError> {
    const FIELD: &str = "pattern";
    if pattern.trim().is_empty() {
        return Err(DomainError::Required { field: FIELD });
    }
    if pattern.len() > MAX_PATTERN_CHARS * 4 || pattern.chars().count() > MAX_PATTERN_CHARS {
        return Err(DomainError::TooLong {
            field: FIELD,
            max: MAX_PATTERN_CHARS,
        });
    }
    let refuse = |e: regex::Error| match e {
        regex::Error::CompiledTooBig(limit) => DomainError::invalid(
            FIELD,
            format!("is too complex: it compiles to more than {limit} bytes"),
        ),
        regex::Error::Syntax(msg) => {
            DomainError::invalid(FIELD, format!("is not a valid regular expression: {msg}"))
        }
        other => DomainError::invalid(FIELD, format!("cannot be compiled: {other}")),
    };
    // Compiled as written first, so that syntax errors point into the admin's text.
    let plain = build(pattern).map_err(refuse)?;
    let anchored = build(&format!("^(?:{pattern})$")).map_err(refuse)?;
    Ok((anchored, plain.captures_len() - 1))
}

/// Parses a translation: an optional leading `+`, digits, `$1`..`$9`.
fn parse_translation(
    translation: &str,
    groups: usize,
    is_internal_extension: bool,
) -> Result<Vec<Piece>, DomainError> {
    const FIELD: &str = "translation";
    if translation.is_empty() {
        return Err(DomainError::Required { field: FIELD });
    }
    if translation.chars().count() > MAX_TRANSLATION_CHARS {
        return Err(DomainError::TooLong {
            field: FIELD,
            max: MAX_TRANSLATION_CHARS,
        });
    }
    let plus = translation.starts_with('+');
    if is_internal_extension && plus {
        return Err(DomainError::invalid(
            FIELD,
            "an internal-extension rule must produce digits, without +",
        ));
    }
    if !is_internal_extension && !plus {
        return Err(DomainError::invalid(
            FIELD,
            "must produce an E.164 number: start with + (for example +1425$1)",
        ));
    }
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = translation.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '+' if i == 0 => literal.push(c),
            '0'..='9' => literal.push(c),
            '$' => {
                let group = match chars.next() {
                    Some((_, d @ '1'..='9')) => (d as usize) - ('0' as usize),
                    _ => {
                        return Err(DomainError::invalid(
                            FIELD,
                            "'$' must be followed by a group number from 1 to 9",
                        ))
                    }
                };
                if group > groups {
                    return Err(DomainError::invalid(
                        FIELD,
                        format!("refers to ${group} but the pattern has {groups} group(s)"),
                    ));
                }
                if !literal.is_empty() {
                    pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                }
                pieces.push(Piece::Group(group));
            }
            _ => {
                return Err(DomainError::invalid(
                    FIELD,
                    format!(
                        "contains {}; use digits, $1 to $9 and a leading +",
                        ShowChar(c)
                    ),
                ))
            }
        }
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// What happened when one rule was tried, for [`DialPlan::test`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum TrialOutcome {
    /// The pattern did not match.
    NoMatch,
    /// The pattern matched and the translation is dialable: this rule applied.
    Matched {
        /// The result.
        result: Dialable,
    },
    /// The pattern matched but the translation is not dialable; the rule was skipped.
    #[serde(rename_all = "camelCase")]
    Unusable {
        /// What the translation produced.
        translated: String,
        /// Why it is not dialable.
        reason: String,
    },
}

/// One rule tried by [`DialPlan::test`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleTrial {
    /// The rule's name.
    pub rule_name: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: TrialOutcome,
}

/// The report of [`DialPlan::test`], like `Test-CsVoiceNormalizationRule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DialPlanTest {
    /// The input, as given (a preview for long input).
    pub input: String,
    /// The input after cleaning; `None` when it holds characters no rule can use.
    pub cleaned: Option<String>,
    /// The rules tried, in order, up to the one that applied.
    pub trials: Vec<RuleTrial>,
    /// The outcome; `None` means `NormalizationFailed`.
    pub normalized: Option<Normalized>,
}

/// An ordered list of normalisation rules with unique names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "Vec<NormalizationRule>", into = "Vec<NormalizationRule>")]
pub struct DialPlan {
    rules: Vec<NormalizationRule>,
}

impl DialPlan {
    /// The most rules a plan holds.
    pub const MAX_RULES: usize = 256;

    /// A plan of `rules`, tried in this order (errors in field `rules` for a duplicate
    /// name or too many rules).
    pub fn new(rules: Vec<NormalizationRule>) -> Result<DialPlan, DomainError> {
        let mut plan = DialPlan::default();
        for rule in rules {
            plan.insert(None, rule)?;
        }
        Ok(plan)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[NormalizationRule] {
        &self.rules
    }

    /// Adds `rule` at `position` (0 = tried first; `None` or past the end = last), as
    /// `New-CsVoiceNormalizationRule -Priority` does.
    pub fn insert(
        &mut self,
        position: Option<usize>,
        rule: NormalizationRule,
    ) -> Result<(), DomainError> {
        if self.rules.len() >= Self::MAX_RULES {
            return Err(DomainError::invalid(
                "rules",
                format!("a dial plan holds at most {} rules", Self::MAX_RULES),
            ));
        }
        if self.rule(&rule.name).is_some() {
            return Err(DomainError::invalid(
                "name",
                format!(
                    "a rule named {:?} already exists in this dial plan",
                    rule.name
                ),
            ));
        }
        let at = position.unwrap_or(self.rules.len()).min(self.rules.len());
        self.rules.insert(at, rule);
        Ok(())
    }

    /// Removes the rule named `name` (ignoring case) and returns it.
    pub fn remove(&mut self, name: &str) -> Option<NormalizationRule> {
        let i = self.position(name)?;
        Some(self.rules.remove(i))
    }

    /// The rule named `name`, ignoring case.
    pub fn rule(&self, name: &str) -> Option<&NormalizationRule> {
        self.position(name).map(|i| &self.rules[i])
    }

    fn position(&self, name: &str) -> Option<usize> {
        let folded = name.trim().to_lowercase();
        self.rules
            .iter()
            .position(|r| r.name.to_lowercase() == folded)
    }

    /// The plan that applies to a user: their own plan if they have one, else the global
    /// plan (Skype does not merge the two).
    pub fn effective<'a>(user: Option<&'a DialPlan>, global: &'a DialPlan) -> &'a DialPlan {
        user.unwrap_or(global)
    }

    /// Normalises what someone typed.
    pub fn normalize(&self, input: &str) -> Result<Normalized, NormalizationFailed> {
        self.run(input, None)
    }

    /// Normalises like [`DialPlan::normalize`], reporting every rule tried.
    pub fn test(&self, input: &str) -> DialPlanTest {
        let mut trials = Vec::new();
        let normalized = self.run(input, Some(&mut trials)).ok();
        DialPlanTest {
            input: preview(input),
            cleaned: clean(input),
            trials,
            normalized,
        }
    }

    /// Normalises a number that must be a full E.164 number (a callback number, an
    /// `AdminCallbackNumber`), blaming `field`: people may type `4255550101` if a rule
    /// handles it, or `+1 425 555 0101`. An extension is refused.
    pub fn normalize_to_e164(&self, field: &'static str, input: &str) -> Result<E164, DomainError> {
        match self.normalize(input) {
            Ok(Normalized {
                result: Dialable::E164(n),
                ..
            }) => Ok(n),
            Ok(Normalized {
                result: Dialable::Extension(x),
                ..
            }) => Err(DomainError::invalid(
                field,
                format!(
                    "{x} is an internal extension; a full number is needed \
                     (for example +14255550101)"
                ),
            )),
            Err(failed) => {
                // A number typed with + gets the precise E.164 complaint.
                if input.trim_start().starts_with('+') {
                    E164::parse_field(field, input)?;
                }
                Err(failed.in_field(field))
            }
        }
    }

    fn run(
        &self,
        input: &str,
        mut trials: Option<&mut Vec<RuleTrial>>,
    ) -> Result<Normalized, NormalizationFailed> {
        let cleaned = clean(input).ok_or_else(|| NormalizationFailed::new(input))?;
        for rule in &self.rules {
            let outcome = rule.apply(&cleaned);
            let found = match &outcome {
                TrialOutcome::Matched { result } => Some(result.clone()),
                _ => None,
            };
            if let Some(t) = trials.as_deref_mut() {
                t.push(RuleTrial {
                    rule_name: rule.name.clone(),
                    outcome,
                });
            }
            if let Some(result) = found {
                return Ok(Normalized {
                    rule_name: Some(rule.name.clone()),
                    result,
                });
            }
        }
        if cleaned.starts_with('+') {
            if let Ok(n) = cleaned.parse::<E164>() {
                return Ok(Normalized {
                    rule_name: None,
                    result: Dialable::E164(n),
                });
            }
        }
        Err(NormalizationFailed::new(input))
    }
}

impl TryFrom<Vec<NormalizationRule>> for DialPlan {
    type Error = DomainError;
    fn try_from(rules: Vec<NormalizationRule>) -> Result<Self, Self::Error> {
        DialPlan::new(rules)
    }
}

impl From<DialPlan> for Vec<NormalizationRule> {
    fn from(p: DialPlan) -> Self {
        p.rules
    }
}

/// Step 1 of the evaluation: the cleaned input, or `None` when no rule could use it.
fn clean(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT_CHARS * 4 {
        return None;
    }
    let mut s = input.trim();
    if s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("tel:")) {
        s = &s[4..];
    }
    let cleaned: String = s
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let body = cleaned.strip_prefix('+').unwrap_or(&cleaned);
    let ok = !body.is_empty()
        && cleaned.len() <= MAX_INPUT_CHARS
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'*' || b == b'#');
    ok.then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// A Redmond office's plan: 4-digit extensions, 7-digit local, 10-digit national,
    /// 1+10-digit national, 011 international.
    fn redmond() -> DialPlan {
        DialPlan::new(vec![
            NormalizationRule::new("Redmond extension", r"^(1\d{3})$", "$1", true).unwrap(),
            NormalizationRule::new("Redmond 4-digit DID", r"^(5\d{3})$", "+1425555$1", false)
                .unwrap(),
            NormalizationRule::new("NA local", r"^(\d{7})$", "+1425$1", false).unwrap(),
            NormalizationRule::new("NA national", r"^1?([2-9]\d{9})$", "+1$1", false).unwrap(),
            NormalizationRule::new("International", r"^011(\d{7,15})$", "+$1", false).unwrap(),
        ])
        .unwrap()
    }

    fn norm(plan: &DialPlan, s: &str) -> (Option<String>, String) {
        let n = plan.normalize(s).unwrap();
        (n.rule_name, n.result.to_string())
    }

    #[test]
    fn normalises_what_people_type() {
        let p = redmond();
        let ext = |s: &str| (Some("Redmond extension".to_owned()), s.to_owned());
        assert_eq!(norm(&p, "1234"), ext("1234"));
        assert_eq!(
            norm(&p, "5101"),
            (Some("Redmond 4-digit DID".into()), "+14255555101".into())
        );
        assert_eq!(
            norm(&p, "555-0101"),
            (Some("NA local".into()), "+14255550101".into())
        );
        assert_eq!(
            norm(&p, "(425) 555-0101"),
            (Some("NA national".into()), "+14255550101".into())
        );
        assert_eq!(
            norm(&p, "1 425.555.0101"),
            (Some("NA national".into()), "+14255550101".into())
        );
        assert_eq!(
            norm(&p, "011 44 20 7946 0958"),
            (Some("International".into()), "+442079460958".into())
        );
        assert_eq!(
            norm(&p, "tel:+1-425-555-0101"),
            (None, "+14255550101".into())
        );
        assert!(matches!(
            p.normalize("1234").unwrap().result,
            Dialable::Extension(_)
        ));
    }

    #[test]
    fn fails_with_normalization_failed_when_nothing_applies() {
        let p = redmond();
        for bad in [
            "12",
            "012345",
            "+0123",
            "1-800-FLOWERS",
            "",
            "  ",
            "*",
            "+",
            "12;34",
        ] {
            let e = p.normalize(bad).unwrap_err();
            assert_eq!(e.input, preview(bad));
            let d: DomainError = e.into();
            assert_eq!(d.code(), "NormalizationFailed");
            assert_eq!(d.field(), "number");
        }
        let e = p.normalize(&"5".repeat(10_240)).unwrap_err();
        assert!(e.input.chars().count() <= 41);
        assert!(DialPlan::default().normalize("4255550101").is_err());
    }

    #[test]
    fn patterns_always_match_the_whole_input() {
        let p = DialPlan::new(vec![NormalizationRule::new(
            "unanchored",
            r"(\d{4})",
            "+1425555$1",
            false,
        )
        .unwrap()])
        .unwrap();
        assert_eq!(
            p.normalize("0101").unwrap().result.to_string(),
            "+14255550101"
        );
        assert!(p.normalize("50101").is_err());
        let alt = DialPlan::new(vec![
            NormalizationRule::new("alt", r"^1|2$", "+1", false).unwrap()
        ])
        .unwrap();
        assert!(alt.normalize("12").is_err());
    }

    #[test]
    fn test_reports_every_rule_tried_and_which_applied() {
        let p = redmond();
        let t = p.test("(425) 555-0101");
        assert_eq!(t.cleaned.as_deref(), Some("4255550101"));
        let names: Vec<_> = t.trials.iter().map(|r| r.rule_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Redmond extension",
                "Redmond 4-digit DID",
                "NA local",
                "NA national"
            ]
        );
        assert_eq!(t.trials[0].outcome, TrialOutcome::NoMatch);
        assert_eq!(
            t.trials[3].outcome,
            TrialOutcome::Matched {
                result: Dialable::E164("+14255550101".parse().unwrap())
            }
        );
        assert_eq!(
            t.normalized.unwrap().rule_name.as_deref(),
            Some("NA national")
        );

        let t = p.test("12");
        assert_eq!(t.trials.len(), 5);
        assert!(t.normalized.is_none());
        let t = p.test("abc");
        assert_eq!(t.cleaned, None);
        assert!(t.trials.is_empty());

        let json = serde_json::to_value(p.test("1234")).unwrap();
        assert_eq!(json["trials"][0]["ruleName"], "Redmond extension");
        assert_eq!(json["trials"][0]["outcome"], "matched");
        assert_eq!(json["normalized"]["result"]["kind"], "extension");
        assert_eq!(json["normalized"]["result"]["value"], "1234");
    }

    #[test]
    fn skips_a_rule_whose_result_is_not_dialable_and_says_why() {
        let p = DialPlan::new(vec![
            NormalizationRule::new("greedy", r"^(.*)$", "+1$1", false).unwrap(),
            NormalizationRule::new("ext", r"^(\d{3})$", "$1", true).unwrap(),
        ])
        .unwrap();
        // "*12" makes "+1*12": not E.164, so the rule is skipped and nothing else applies.
        let t = p.test("*12");
        assert!(matches!(
            &t.trials[0].outcome,
            TrialOutcome::Unusable { translated, .. } if translated == "+1*12"
        ));
        assert!(t.normalized.is_none());
        assert_eq!(
            norm(&p, "4255550101"),
            (Some("greedy".into()), "+14255550101".into())
        );
        // "+1101" is too short for E.164: skipped too, and the extension rule applies.
        assert_eq!(norm(&p, "101"), (Some("ext".into()), "101".into()));
    }

    #[test]
    fn refuses_bad_rules_naming_the_field() {
        for (name, pattern, translation, internal, field, says) in [
            ("", r"^(\d)$", "+1$1", false, "name", "required"),
            ("a\nb", r"^(\d)$", "+1$1", false, "name", "U+000A"),
            ("r", "", "+1", false, "pattern", "required"),
            (
                "r",
                r"^(\d$",
                "+1$1",
                false,
                "pattern",
                "not a valid regular expression",
            ),
            (
                "r",
                r"(\d{1,100}){100}",
                "+1$1",
                false,
                "pattern",
                "too complex",
            ),
            (
                "r",
                r"^(\d{4})$",
                "1425$1",
                false,
                "translation",
                "start with +",
            ),
            ("r", r"^(\d{4})$", "+1$1", true, "translation", "without +"),
            (
                "r",
                r"^(\d{4})$",
                "+1$2",
                false,
                "translation",
                "has 1 group",
            ),
            (
                "r",
                r"^(\d{4})$",
                "+1$0",
                false,
                "translation",
                "group number",
            ),
            (
                "r",
                r"^(\d{4})$",
                "+1${1}",
                false,
                "translation",
                "group number",
            ),
            (
                "r",
                r"^(\d{4})$",
                "+1-$1",
                false,
                "translation",
                "contains '-'",
            ),
            (
                "r",
                r"^(\d{4})$",
                "+1$1'; DROP",
                false,
                "translation",
                "contains '''",
            ),
            ("r", r"^(\d{4})$", "", false, "translation", "required"),
        ] {
            let e = NormalizationRule::new(name, pattern, translation, internal).unwrap_err();
            assert_eq!(e.field(), field, "{pattern} {translation}");
            assert!(e.to_string().contains(says), "{pattern} {translation}: {e}");
        }
        let e = NormalizationRule::new("r", &"1".repeat(10_240), "+1", false).unwrap_err();
        assert!(matches!(
            e,
            DomainError::TooLong {
                field: "pattern",
                ..
            }
        ));
        let e = NormalizationRule::new(&"n".repeat(10_240), "1", "+1", false).unwrap_err();
        assert!(matches!(e, DomainError::TooLong { field: "name", .. }));
    }

    #[test]
    fn plans_keep_order_and_unique_names() {
        let mut p = redmond();
        let e = p
            .insert(
                None,
                NormalizationRule::new("na LOCAL", "1", "+1", false).unwrap(),
            )
            .unwrap_err();
        assert_eq!(e.field(), "name");
        p.insert(
            Some(0),
            NormalizationRule::new("Operator", "^0$", "+14255550100", false).unwrap(),
        )
        .unwrap();
        assert_eq!(p.rules()[0].name(), "Operator");
        assert_eq!(norm(&p, "0").1, "+14255550100");
        assert!(p.remove("operator").is_some());
        assert!(p.remove("operator").is_none());
        assert_eq!(p.rules().len(), 5);
        let user = DialPlan::default();
        assert!(std::ptr::eq(DialPlan::effective(Some(&user), &p), &user));
        assert!(std::ptr::eq(DialPlan::effective(None, &p), &p));
    }

    #[test]
    fn normalises_callback_numbers_to_e164_only() {
        let p = redmond();
        let n = p.normalize_to_e164("phoneNumber", "425 555 0101").unwrap();
        assert_eq!(n.as_str(), "+14255550101");
        let e = p.normalize_to_e164("phoneNumber", "1234").unwrap_err();
        assert!(e.to_string().contains("internal extension"));
        assert_eq!(e.field(), "phoneNumber");
        let e = p
            .normalize_to_e164("adminCallbackNumber", "12")
            .unwrap_err();
        assert_eq!(e.code(), "NormalizationFailed");
        assert_eq!(e.field(), "adminCallbackNumber");
        let e = p
            .normalize_to_e164("adminCallbackNumber", "+1-800-FLOWERS")
            .unwrap_err();
        assert!(e.to_string().contains("contains 'F'"), "{e}");
    }

    #[test]
    fn serde_round_trips_rules_and_validates_them() {
        let p = redmond();
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""isInternalExtension":true"#));
        let back: DialPlan = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(norm(&back, "5551234").1, "+14255551234");
        let bad = r#"[{"name":"x","pattern":"(","translation":"+1"}]"#;
        assert!(serde_json::from_str::<DialPlan>(bad).is_err());
        let dup = r#"[{"name":"x","pattern":"1","translation":"+1"},
                      {"name":"X","pattern":"2","translation":"+2"}]"#;
        assert!(serde_json::from_str::<DialPlan>(dup).is_err());
    }

    /// Property: random input never panics, and every success is dialable. Seeded, so a
    /// failure reproduces. (proptest is not a dependency of this crate.)
    #[test]
    fn property_random_input_never_panics_and_results_are_dialable() {
        let p = redmond();
        let mut rng = rand::rngs::StdRng::seed_from_u64(0xD1A1);
        let alphabet: Vec<char> = "0123456789+*# -.()telTEL:xé\u{0660}\n;$".chars().collect();
        for _ in 0..20_000 {
            let len = rng.random_range(0..30);
            let s: String = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let t = p.test(&s);
            assert_eq!(t.normalized, p.normalize(&s).ok());
            match t.normalized.map(|n| n.result) {
                Some(Dialable::E164(n)) => assert!(n.as_str().parse::<E164>().is_ok()),
                Some(Dialable::Extension(x)) => {
                    assert!(x.as_str().bytes().all(|b| b.is_ascii_digit()))
                }
                None => {}
            }
        }
    }
}
