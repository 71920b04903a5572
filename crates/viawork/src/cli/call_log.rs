//! The call log: every call ViaWork placed, newest first — listed a page at a time
//! (`viawork calllog list`, `GET /api/v1/call-log`, `GET /api/v1/admin/call-log`) or
//! exported as CSV (`viawork calllog export`, `GET /api/v1/admin/call-log.csv`).
//!
//! The call service writes the rows (`calls/log.rs`); this file only reads them. Filters are
//! parsed once into a [`CallLogFilter`]; pages are chained with an opaque [`Cursor`] (the
//! position of the last call shown, so a page never repeats or skips a call however many
//! calls are placed meanwhile). Times are shown as RFC 3339 UTC strings with milliseconds
//! (see [`rfc3339`](super::rfc3339)); the field names of a [`CallEntry`] are the JSON API's.
//!
//! The CSV follows RFC 4180 (CRLF line ends, fields quoted only when they must be, `""` for
//! a quote) and is safe to open in a spreadsheet: a cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading `'`, so it is never run as a formula. An
//! export holds at most [`MAX_EXPORT_ROWS`] calls, read from the store a page at a time;
//! when more match, the summary carries the cursor to continue from.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::output::{table, Render};
use super::rfc3339::{format_ms, parse_ms};
use super::AdminError;
use crate::domain::{DomainError, UserUri};
use crate::store::{CallLogQuery, CallRecordRow, Store};

/// Calls per page when no limit is given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The most calls one page of a user's own call log holds.
pub const USER_MAX_LIMIT: u32 = 200;
/// The most calls one page holds for an administrator (API and CLI).
pub const MAX_LIMIT: u32 = 500;
/// The most calls one CSV export holds.
pub const MAX_EXPORT_ROWS: u32 = 100_000;
/// Calls read from the store per query while exporting.
const EXPORT_PAGE: u32 = 1000;
/// Longest end reason a filter accepts (the store keeps at most 64 bytes).
const MAX_END_REASON: usize = 64;

/// Which calls to show; every filter that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallLogFilter {
    /// Only the calls placed by this user.
    pub user: Option<UserUri>,
    /// Only calls placed at or after this time (unix ms).
    pub since: Option<i64>,
    /// Only calls placed before this time (unix ms).
    pub until: Option<i64>,
    /// Only calls that ended for this reason (`completed`, `far_end_busy`, ...).
    pub end_reason: Option<String>,
}

impl CallLogFilter {
    /// A filter on one user's calls.
    pub fn of_user(user: UserUri) -> CallLogFilter {
        CallLogFilter {
            user: Some(user),
            ..CallLogFilter::default()
        }
    }

    /// Parses the filters as written in a query string or on the command line; an absent
    /// or empty value does not filter. Refusals name `user`, `since`, `until` or
    /// `end_reason`; `until` must be later than `since`.
    pub fn parse(
        user: Option<&str>,
        since: Option<&str>,
        until: Option<&str>,
        end_reason: Option<&str>,
    ) -> Result<CallLogFilter, DomainError> {
        let user = given(user)
            .map(|u| u.parse::<UserUri>().map_err(|e| e.in_field("user")))
            .transpose()?;
        let since = given(since).map(|t| parse_ms("since", t)).transpose()?;
        let until = given(until).map(|t| parse_ms("until", t)).transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if until <= since {
                return Err(DomainError::invalid("until", "must be later than since"));
            }
        }
        let end_reason = given(end_reason).map(end_reason_filter).transpose()?;
        Ok(CallLogFilter {
            user,
            since,
            until,
            end_reason,
        })
    }

    fn query(&self, before: Option<&Cursor>, limit: u32) -> CallLogQuery {
        CallLogQuery {
            owner: self.user.as_ref().map(|u| u.as_str().to_owned()),
            before: before.map(|c| (c.created_at, c.id.clone())),
            since: self.since,
            until: self.until,
            end_reason: self.end_reason.clone(),
            limit,
        }
    }
}

/// A filter's value, unless absent or blank.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// An end reason to filter on: snake_case letters, digits and `_`.
fn end_reason_filter(text: &str) -> Result<String, DomainError> {
    let ok = text.len() <= MAX_END_REASON
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(DomainError::invalid(
            "end_reason",
            "must be an end reason such as completed or far_end_busy",
        ))
    }
}

/// Where a page starts: just after the call placed at `created_at` with id `id` (the last
/// call of the previous page). Shown as opaque hex text; clients pass it back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    created_at: i64,
    id: String,
}

impl Cursor {
    /// Longest id a cursor carries (the store keeps ids of at most 64 bytes).
    const MAX_ID: usize = 64;

    /// The cursor after `row`.
    fn after(row: &CallRecordRow) -> Cursor {
        Cursor {
            created_at: row.created_at,
            id: row.id.clone(),
        }
    }

    /// Parses a cursor this module showed; anything else is refused naming `cursor`.
    pub fn parse(text: &str) -> Result<Cursor, DomainError> {
        let bad = || DomainError::invalid("cursor", "is not a cursor from a previous page");
        let text = text.trim();
        if !text.len().is_multiple_of(2) || text.len() > 2 * (20 + 1 + Self::MAX_ID) {
            return Err(bad());
        }
        let bytes = text
            .as_bytes()
            .chunks(2)
            .map(|pair| {
                let pair = std::str::from_utf8(pair).ok()?;
                u8::from_str_radix(pair, 16).ok()
            })
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(bad)?;
        let plain = String::from_utf8(bytes).map_err(|_| bad())?;
        let (created_at, id) = plain.split_once(':').ok_or_else(bad)?;
        let created_at = created_at.parse::<i64>().map_err(|_| bad())?;
        if id.is_empty() || id.len() > Self::MAX_ID || id.contains('\0') {
            return Err(bad());
        }
        Ok(Cursor {
            created_at,
            id: id.to_owned(),
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in format!("{}:{}", self.created_at, self.id).bytes() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Who looks at the log: an owner sees their own calls (no `owner` member), an
/// administrator everyone's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The user whose calls they are.
    Owner,
    /// An administrator.
    Admin,
}

/// Whether a call is still going on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallLogState {
    /// Not ended yet.
    Live,
    /// Over; `end_reason` says why.
    Ended,
}

impl CallLogState {
    fn of(row: &CallRecordRow) -> CallLogState {
        if row.ended_at.is_some() {
            CallLogState::Ended
        } else {
            CallLogState::Live
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            CallLogState::Live => "live",
            CallLogState::Ended => "ended",
        }
    }
}

/// The SIP Call-IDs of a call's two legs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SipCallIds {
    /// The leg that rang the user's phone.
    pub callback: Option<String>,
    /// The leg to the far end.
    pub far: Option<String>,
}

/// One call as shown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallEntry {
    /// The call id.
    pub id: String,
    /// Who placed it (administrators only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// `outbound` (Call Via Work).
    pub direction: String,
    /// What the user asked to call.
    pub to: String,
    /// The number dialled (E.164) or extension.
    pub to_number: String,
    /// The number the user's phone was rung on.
    pub callback_number: String,
    /// `live` or `ended`.
    pub state: CallLogState,
    /// Why it ended; `null` while live.
    pub end_reason: Option<String>,
    /// Who hung up (`user`, `your_phone`, `far_end`, `system`); `null` while live.
    pub hung_up_by: Option<String>,
    /// When it was placed (RFC 3339, UTC).
    pub created_at: String,
    /// When the user's phone answered.
    pub callback_answered_at: Option<String>,
    /// When the far end answered.
    pub connected_at: Option<String>,
    /// When it ended.
    pub ended_at: Option<String>,
    /// Whole seconds from `connected_at` to `ended_at`; `null` unless both are set.
    pub duration_secs: Option<i64>,
    /// The SIP Call-IDs of the two legs.
    pub sip_call_ids: SipCallIds,
    /// Per-leg media statistics as the call service recorded them; `null` if none.
    pub media_stats: Option<Value>,
}

impl CallEntry {
    /// The entry of a stored row.
    pub fn new(row: CallRecordRow, audience: Audience) -> CallEntry {
        let state = CallLogState::of(&row);
        CallEntry {
            duration_secs: duration_secs(&row),
            media_stats: row
                .media_stats
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
            owner: (audience == Audience::Admin).then_some(row.owner_sip_uri),
            id: row.id,
            direction: row.direction,
            to: row.to_text,
            to_number: row.to_number,
            callback_number: row.callback_number,
            state,
            end_reason: row.end_reason,
            hung_up_by: row.hung_up_by,
            created_at: format_ms(row.created_at),
            callback_answered_at: row.callback_answered_at.map(format_ms),
            connected_at: row.connected_at.map(format_ms),
            ended_at: row.ended_at.map(format_ms),
            sip_call_ids: SipCallIds {
                callback: row.callback_sip_call_id,
                far: row.far_sip_call_id,
            },
        }
    }
}

/// Whole seconds the call was connected, if it connected and ended.
fn duration_secs(row: &CallRecordRow) -> Option<i64> {
    let (connected, ended) = (row.connected_at?, row.ended_at?);
    Some(ended.saturating_sub(connected).max(0) / 1000)
}

/// One page of the call log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CallLogPage {
    /// The calls, newest first.
    pub calls: Vec<CallEntry>,
    /// The cursor of the next page; `null` on the last one.
    pub next: Option<String>,
}

impl Render for CallLogPage {
    fn human(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .calls
            .iter()
            .map(|c| {
                vec![
                    c.created_at.clone(),
                    c.owner.clone().unwrap_or_default(),
                    c.to.clone(),
                    c.to_number.clone(),
                    c.end_reason
                        .clone()
                        .unwrap_or_else(|| c.state.as_str().to_owned()),
                    c.duration_secs.map(|d| d.to_string()).unwrap_or_default(),
                    c.id.clone(),
                ]
            })
            .collect();
        let mut out = table(
            &["CREATED", "OWNER", "TO", "NUMBER", "END", "SECS", "ID"],
            &rows,
        );
        if let Some(next) = &self.next {
            out.push_str(&format!("more: --cursor {next}\n"));
        }
        out
    }
}

/// One page of the calls matching `filter`, newest first, after `cursor`: at most `limit`
/// calls (1 to [`MAX_LIMIT`], else refused naming `limit`).
pub async fn list_calls(
    store: &dyn Store,
    filter: &CallLogFilter,
    cursor: Option<&Cursor>,
    limit: u32,
    audience: Audience,
) -> Result<CallLogPage, AdminError> {
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be a whole number from 1 to {MAX_LIMIT}"),
        )
        .into());
    }
    // One more than asked, to know whether there is a next page.
    let mut rows = store
        .list_call_records(&filter.query(cursor, limit + 1))
        .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = more
        .then(|| rows.last().map(|r| Cursor::after(r).to_string()))
        .flatten();
    Ok(CallLogPage {
        calls: rows
            .into_iter()
            .map(|r| CallEntry::new(r, audience))
            .collect(),
        next,
    })
}

/// The columns of the CSV export, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "id",
    "owner",
    "direction",
    "to",
    "to_number",
    "callback_number",
    "state",
    "end_reason",
    "hung_up_by",
    "created_at",
    "callback_answered_at",
    "connected_at",
    "ended_at",
    "duration_secs",
    "callback_sip_call_id",
    "far_sip_call_id",
    "media_stats",
];

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// Calls written (header not counted).
    pub rows: u64,
    /// Where it was written (the CLI's file), if anywhere but the response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// When the export stopped at its limit with calls left: the cursor to continue from.
    pub next: Option<String>,
}

impl Render for ExportSummary {
    fn human(&self) -> String {
        let mut out = match &self.file {
            Some(file) => format!("Exported {} calls to {file}\n", self.rows),
            None => format!("Exported {} calls\n", self.rows),
        };
        if let Some(next) = &self.next {
            out.push_str(&format!("more: --cursor {next}\n"));
        }
        out
    }
}

/// Writes the calls matching `filter`, newest first, after `cursor`, as CSV (header
/// first) to `out`: at most `max_rows` calls (1 to [`MAX_EXPORT_ROWS`], else refused
/// naming `limit`), read from the store 1000 at a time.
pub async fn export_csv(
    store: &dyn Store,
    filter: &CallLogFilter,
    cursor: Option<&Cursor>,
    max_rows: u32,
    out: &mut String,
) -> Result<ExportSummary, AdminError> {
    if !(1..=MAX_EXPORT_ROWS).contains(&max_rows) {
        return Err(DomainError::invalid(
            "limit",
            format!("must be a whole number from 1 to {MAX_EXPORT_ROWS}"),
        )
        .into());
    }
    csv_record(out, CSV_COLUMNS);
    let mut remaining = max_rows;
    let mut position = cursor.cloned();
    let mut written = 0u64;
    let mut more = false;
    loop {
        // While under the limit, ask for one more row than still fits: its presence tells
        // whether the export stops with calls left.
        let want = remaining.saturating_add(1).min(EXPORT_PAGE);
        let rows = store
            .list_call_records(&filter.query(position.as_ref(), want))
            .await?;
        let got = rows.len();
        let fits = got.min(remaining as usize);
        for row in rows.into_iter().take(fits) {
            position = Some(Cursor::after(&row));
            csv_record(out, csv_fields(row));
        }
        written += fits as u64;
        remaining -= fits as u32;
        if got < want as usize {
            break;
        }
        if remaining == 0 && got > fits {
            more = true;
            break;
        }
    }
    Ok(ExportSummary {
        rows: written,
        file: None,
        next: more.then(|| position.map(|p| p.to_string())).flatten(),
    })
}

/// The CSV fields of a call, in the order of [`CSV_COLUMNS`].
fn csv_fields(row: CallRecordRow) -> [String; CSV_COLUMNS.len()] {
    let state = CallLogState::of(&row).as_str().to_owned();
    let duration = duration_secs(&row)
        .map(|d| d.to_string())
        .unwrap_or_default();
    let time = |t: Option<i64>| t.map(format_ms).unwrap_or_default();
    [
        row.id,
        row.owner_sip_uri,
        row.direction,
        row.to_text,
        row.to_number,
        row.callback_number,
        state,
        row.end_reason.unwrap_or_default(),
        row.hung_up_by.unwrap_or_default(),
        format_ms(row.created_at),
        time(row.callback_answered_at),
        time(row.connected_at),
        time(row.ended_at),
        duration,
        row.callback_sip_call_id.unwrap_or_default(),
        row.far_sip_call_id.unwrap_or_default(),
        row.media_stats.unwrap_or_default(),
    ]
}

/// Appends one CSV record (CRLF-terminated) to `out`.
fn csv_record<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(out, field.as_ref());
    }
    out.push_str("\r\n");
}

/// Appends one field: made inert for spreadsheets, then quoted if it must be (RFC 4180).
fn csv_field(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = value.contains([',', '"', '\r', '\n']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    if quote {
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(value: &str) -> String {
        let mut out = String::new();
        csv_field(&mut out, value);
        out
    }

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(field("plain text"), "plain text");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
    }

    #[test]
    fn csv_fields_that_look_like_formulas_are_made_inert() {
        assert_eq!(field("=1+2"), "'=1+2");
        assert_eq!(field("+14255550100"), "'+14255550100");
        assert_eq!(field("-5"), "'-5");
        assert_eq!(field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(field("\tx"), "'\tx");
        assert_eq!(
            field("=HYPERLINK(\"http://x\",\"y\")"),
            "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\""
        );
        assert_eq!(field("a=b"), "a=b");
    }

    #[test]
    fn records_end_with_crlf_and_follow_the_columns() {
        let row = CallRecordRow {
            id: "0123456789abcdef0123456789abcdef".into(),
            owner_sip_uri: "sip:alice@example.com".into(),
            direction: "outbound".into(),
            to_text: "Bob, Sales".into(),
            to_number: "+14255550123".into(),
            callback_number: "+14255550100".into(),
            end_reason: Some("completed".into()),
            hung_up_by: Some("far_end".into()),
            created_at: 1_714_555_800_000,
            callback_answered_at: Some(1_714_555_803_000),
            connected_at: Some(1_714_555_805_000),
            ended_at: Some(1_714_555_866_999),
            callback_sip_call_id: Some("a@h".into()),
            far_sip_call_id: None,
            media_stats: Some(r#"{"loss":0}"#.into()),
        };
        let mut out = String::new();
        csv_record(&mut out, csv_fields(row));
        assert_eq!(
            out,
            "0123456789abcdef0123456789abcdef,sip:alice@example.com,outbound,\"Bob, Sales\",\
             '+14255550123,'+14255550100,ended,completed,far_end,2024-05-01T09:30:00.000Z,\
             2024-05-01T09:30:03.000Z,2024-05-01T09:30:05.000Z,2024-05-01T09:31:06.999Z,61,\
             a@h,,\"{\"\"loss\"\":0}\"\r\n"
        );
    }

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = Cursor {
            created_at: 1_714_555_800_000,
            id: "0123456789abcdef0123456789abcdef".into(),
        };
        let text = c.to_string();
        assert!(text.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(Cursor::parse(&text).unwrap(), c);
        let negative = Cursor {
            created_at: -5,
            id: "x".into(),
        };
        assert_eq!(Cursor::parse(&negative.to_string()).unwrap(), negative);
        let colons = Cursor {
            created_at: 7,
            id: "a:b".into(),
        };
        assert_eq!(Cursor::parse(&colons.to_string()).unwrap(), colons);
        for bad in [
            "",
            "abc",
            "zz",
            "313233",   // "123": no id
            "3132333a", // "123:": empty id
            "78787878", // "xxxx": no colon
            "313a00",   // NUL in the id
            "ffff3a78", // not UTF-8
            "783a78",   // "x:x": not a time
            &"41".repeat(200),
            &format!("313a{}", "61".repeat(65)), // id too long
        ] {
            let e = Cursor::parse(bad).unwrap_err();
            assert_eq!(e.field(), "cursor", "{bad:?}");
        }
    }

    #[test]
    fn filters_parse_and_name_the_field_they_refuse() {
        let f = CallLogFilter::parse(
            Some("SIP:Alice@Example.com"),
            Some("2024-05-01"),
            Some("2024-05-02T00:00:00Z"),
            Some("far_end_busy"),
        )
        .unwrap();
        assert_eq!(f.user.unwrap().as_str(), "sip:alice@example.com");
        assert_eq!(f.since, Some(1_714_521_600_000));
        assert_eq!(f.until, Some(1_714_608_000_000));
        assert_eq!(f.end_reason.as_deref(), Some("far_end_busy"));
        assert_eq!(
            CallLogFilter::parse(Some(""), Some(" "), None, Some("")).unwrap(),
            CallLogFilter::default()
        );
        let field = |u, s, t, r| CallLogFilter::parse(u, s, t, r).unwrap_err().field();
        assert_eq!(field(Some("alice"), None, None, None), "user");
        assert_eq!(field(None, Some("May 1"), None, None), "since");
        assert_eq!(field(None, None, Some("2024-02-30"), None), "until");
        assert_eq!(
            field(None, Some("2024-05-02"), Some("2024-05-01"), None),
            "until"
        );
        assert_eq!(field(None, None, None, Some("Busy!")), "end_reason");
    }

    #[test]
    fn entries_show_state_duration_and_owner_by_audience() {
        let live = CallRecordRow {
            id: "ab".into(),
            owner_sip_uri: "sip:a@example.com".into(),
            direction: "outbound".into(),
            created_at: 0,
            connected_at: Some(1000),
            media_stats: Some("not json".into()),
            ..CallRecordRow::default()
        };
        let e = CallEntry::new(live.clone(), Audience::Owner);
        assert_eq!(e.state, CallLogState::Live);
        assert_eq!(
            (e.duration_secs, e.owner, e.media_stats),
            (None, None, None)
        );
        let ended = CallRecordRow {
            ended_at: Some(500),
            media_stats: Some(r#"{"callback":{"lost":1}}"#.into()),
            ..live
        };
        let e = CallEntry::new(ended, Audience::Admin);
        assert_eq!(e.state, CallLogState::Ended);
        assert_eq!(e.duration_secs, Some(0), "never negative");
        assert_eq!(e.owner.as_deref(), Some("sip:a@example.com"));
        assert_eq!(e.media_stats.unwrap()["callback"]["lost"], 1);
    }
}
