//! The call log over HTTP, in-process: `GET /api/v1/call-log` (a user's own calls),
//! `GET /api/v1/admin/call-log` and `GET /api/v1/admin/call-log.csv`, through the router
//! from `viawork::api::router` over a store on each backend (SQLite and PostgreSQL, as in
//! `http_api.rs`), driven with `tower::ServiceExt::oneshot`. Calls are seeded through the
//! store, as the call service writes them; users are created with the CLI's service
//! function. One test runs `viawork calllog list` / `export` on a SQLite file.
//!
//! Each test body is an `async fn(store_url)`, expanded by `both_backends!`
//! (`common/backends.rs`) into `on_sqlite::NAME` and `on_postgres::NAME`.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/backends.rs"]
#[macro_use]
mod backends;

use std::collections::HashSet;
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use viawork::api::{self, AppState, SessionSettings};
use viawork::cli::users::{self, UserInput};
use viawork::store::{self, CallRecordRow, Store};

const PASSWORD: &str = "S3cret-pass";
const ADMIN: &str = "sip:root@example.com";
const ALICE: &str = "sip:alice@example.com";
const BOB: &str = "sip:bob@example.com";
/// 2024-05-01T09:30:00Z in unix ms.
const T0: i64 = 1_714_555_800_000;

struct Api {
    router: Router,
    store: Arc<dyn Store>,
    admin: String,
    alice: String,
    bob: String,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("{e}: {}", self.text))
    }

    #[track_caller]
    fn ok(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", self.text);
        self.json()
    }

    /// Asserts a 400 `ParameterValidationFailure` naming `field`.
    #[track_caller]
    fn refused(&self, field: &str) {
        assert_eq!(self.status, StatusCode::BAD_REQUEST, "{}", self.text);
        let e = &self.json()["error"];
        assert_eq!(e["code"], "ParameterValidationFailure", "{}", self.text);
        assert_eq!(e["field"], field, "{}", self.text);
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A fresh store with an administrator and two users, all signed in.
async fn api(store_url: &str) -> Api {
    let store = store::open(store_url).await.expect("open store");
    for (sip_uri, role) in [(ADMIN, "admin"), (ALICE, "user"), (BOB, "user")] {
        let input = UserInput {
            display_name: Some("Some One".into()),
            password: Some(PASSWORD.into()),
            role: Some(role.into()),
            ..UserInput::default()
        };
        users::new_user(store.as_ref(), sip_uri, &input)
            .await
            .expect("create user");
    }
    let state = AppState::new(store.clone(), SessionSettings::default(), Vec::new());
    let mut api = Api {
        router: api::router(state),
        store,
        admin: String::new(),
        alice: String::new(),
        bob: String::new(),
    };
    api.admin = api.token(ADMIN).await;
    api.alice = api.token(ALICE).await;
    api.bob = api.token(BOB).await;
    api
}

impl Api {
    async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Body) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            headers,
            text: String::from_utf8(bytes.to_vec()).expect("utf-8"),
        }
    }

    async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(Method::GET, path, Some(token), Body::empty())
            .await
    }

    async fn token(&self, username: &str) -> String {
        let body = json!({"username": username, "password": PASSWORD}).to_string();
        let r = self
            .send(Method::POST, "/api/v1/auth/token", None, Body::from(body))
            .await;
        r.ok()["access_token"].as_str().expect("token").to_owned()
    }

    async fn seed(&self, rows: &[CallRecordRow]) {
        self.store
            .upsert_call_records(rows)
            .await
            .expect("seed calls");
    }

    /// Follows `next` from `path` (which has no cursor yet) to the end: the ids of every
    /// page, in order.
    async fn pages(&self, path: &str, token: &str) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let url = match &next {
                Some(c) => format!("{path}&cursor={c}"),
                None => path.to_owned(),
            };
            let page = self.get(&url, token).await.ok();
            pages.push(ids(&page));
            match page["next"].as_str() {
                Some(c) => next = Some(c.to_owned()),
                None => break,
            }
            assert!(pages.len() < 100, "paging does not end");
        }
        pages
    }
}

/// A call id from a number.
fn call_id(n: u32) -> String {
    format!("{n:032x}")
}

/// A live call of `owner`, `n` seconds after `T0`.
fn call(n: u32, owner: &str) -> CallRecordRow {
    CallRecordRow {
        id: call_id(n),
        owner_sip_uri: owner.into(),
        direction: "outbound".into(),
        to_text: "Bob".into(),
        to_number: "+14255550123".into(),
        callback_number: "+14255550100".into(),
        created_at: T0 + i64::from(n) * 1000,
        ..CallRecordRow::default()
    }
}

/// `row` once it ended for `reason`, connected for 61.5 seconds.
fn ended(mut row: CallRecordRow, reason: &str) -> CallRecordRow {
    row.end_reason = Some(reason.into());
    row.hung_up_by = Some("far_end".into());
    row.callback_answered_at = Some(row.created_at + 3_000);
    row.connected_at = Some(row.created_at + 5_000);
    row.ended_at = Some(row.created_at + 66_500);
    row
}

fn ids(page: &Value) -> Vec<String> {
    page["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| c["id"].as_str().expect("id").to_owned())
        .collect()
}

fn id_list(ns: &[u32]) -> Vec<String> {
    ns.iter().map(|n| call_id(*n)).collect()
}

both_backends!(
    a_user_sees_only_their_own_calls_newest_first_in_the_documented_shape,
    a_user_pages_through_their_calls_with_the_cursor_without_duplicates_or_gaps,
    bad_limits_cursors_and_parameters_get_400_naming_the_field,
    the_admin_call_log_shows_everyones_calls_with_their_owner_and_filters,
    admin_call_log_routes_are_403_for_a_user_token_and_401_without_one,
    the_csv_export_has_a_header_row_quotes_and_neutralises_formulas,
    the_csv_export_pages_through_the_store_and_stops_at_its_limit_with_a_cursor,
);

async fn a_user_sees_only_their_own_calls_newest_first_in_the_documented_shape(url: &str) {
    let api = api(url).await;
    let done = CallRecordRow {
        callback_sip_call_id: Some("cb-1@viawork".into()),
        far_sip_call_id: Some("far-1@viawork".into()),
        media_stats: Some(r#"{"callback":{"packets":3000,"lost":2,"jitter_ms":4.5}}"#.into()),
        ..ended(call(1, ALICE), "completed")
    };
    api.seed(&[done, call(2, BOB), call(3, "sip:Alice@Example.com")])
        .await;

    let page = api.get("/api/v1/call-log", &api.alice).await.ok();
    assert_eq!(ids(&page), id_list(&[3, 1]));
    assert_eq!(page["next"], Value::Null);
    assert_eq!(
        page["calls"][1],
        json!({
            "id": call_id(1),
            "direction": "outbound",
            "to": "Bob",
            "to_number": "+14255550123",
            "callback_number": "+14255550100",
            "state": "ended",
            "end_reason": "completed",
            "hung_up_by": "far_end",
            "created_at": "2024-05-01T09:30:01.000Z",
            "callback_answered_at": "2024-05-01T09:30:04.000Z",
            "connected_at": "2024-05-01T09:30:06.000Z",
            "ended_at": "2024-05-01T09:31:07.500Z",
            "duration_secs": 61,
            "sip_call_ids": {"callback": "cb-1@viawork", "far": "far-1@viawork"},
            "media_stats": {"callback": {"packets": 3000, "lost": 2, "jitter_ms": 4.5}},
        })
    );
    let live = &page["calls"][0];
    assert_eq!(live["state"], "live");
    for member in [
        "end_reason",
        "hung_up_by",
        "ended_at",
        "duration_secs",
        "media_stats",
    ] {
        assert_eq!(live[member], Value::Null, "{member}");
    }
    assert!(
        live.get("owner").is_none(),
        "no owner in the user's own log"
    );

    let bob = api.get("/api/v1/call-log", &api.bob).await.ok();
    assert_eq!(ids(&bob), id_list(&[2]));
    let admin = api.get("/api/v1/call-log", &api.admin).await.ok();
    assert_eq!(
        ids(&admin),
        id_list(&[]),
        "an admin's own log is their own calls"
    );
}

async fn a_user_pages_through_their_calls_with_the_cursor_without_duplicates_or_gaps(url: &str) {
    let api = api(url).await;
    let mut rows: Vec<CallRecordRow> = (1..=7).map(|n| call(n, ALICE)).collect();
    rows.extend((8..=10).map(|n| call(n, BOB)));
    // Two calls placed in the same millisecond: the id orders them.
    rows.push(CallRecordRow {
        created_at: T0 + 4000,
        ..call(40, ALICE)
    });
    api.seed(&rows).await;

    let pages = api.pages("/api/v1/call-log?limit=3", &api.alice).await;
    assert_eq!(
        pages,
        vec![id_list(&[7, 6, 5]), id_list(&[40, 4, 3]), id_list(&[2, 1]),]
    );
    // An exact multiple of the limit ends without an empty page.
    let pages = api.pages("/api/v1/call-log?limit=4", &api.alice).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4]);
    // The default page holds them all.
    let page = api.get("/api/v1/call-log", &api.alice).await.ok();
    assert_eq!(ids(&page).len(), 8);
    // Bob's cursor in Alice's request still shows only Alice's calls.
    let bobs = api.get("/api/v1/call-log?limit=1", &api.bob).await.ok();
    let cursor = bobs["next"].as_str().expect("next").to_owned();
    let page = api
        .get(&format!("/api/v1/call-log?cursor={cursor}"), &api.alice)
        .await
        .ok();
    assert_eq!(ids(&page), id_list(&[7, 6, 5, 40, 4, 3, 2, 1]));
}

async fn bad_limits_cursors_and_parameters_get_400_naming_the_field(url: &str) {
    let api = api(url).await;
    api.seed(&[call(1, ALICE)]).await;
    for limit in ["0", "201", "-1", "abc", "1.5"] {
        api.get(&format!("/api/v1/call-log?limit={limit}"), &api.alice)
            .await
            .refused("limit");
    }
    api.get("/api/v1/call-log?limit=200", &api.alice).await.ok();
    for cursor in ["zz", "abc", "3132", "%00", "78787878"] {
        api.get(&format!("/api/v1/call-log?cursor={cursor}"), &api.alice)
            .await
            .refused("cursor");
    }
    api.get("/api/v1/call-log?colour=red", &api.alice)
        .await
        .refused("colour");
    // The administrator's filters are not parameters of the user's own log.
    api.get(&format!("/api/v1/call-log?user={BOB}"), &api.alice)
        .await
        .refused("user");
    // Empty values are as good as absent.
    api.get("/api/v1/call-log?limit=&cursor=", &api.alice)
        .await
        .ok();
    let r = api
        .send(Method::GET, "/api/v1/call-log", None, Body::empty())
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = api.get("/api/v1/call-log", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    for (query, field) in [
        ("since=yesterday", "since"),
        ("until=2024-02-30", "until"),
        ("since=2024-05-02&until=2024-05-01", "until"),
        ("user=alice", "user"),
        ("end_reason=Busy!", "end_reason"),
        ("limit=501", "limit"),
        ("cursor=q", "cursor"),
        ("colour=red", "colour"),
    ] {
        api.get(&format!("/api/v1/admin/call-log?{query}"), &api.admin)
            .await
            .refused(field);
        if field != "limit" {
            api.get(&format!("/api/v1/admin/call-log.csv?{query}"), &api.admin)
                .await
                .refused(field);
        }
    }
    api.get("/api/v1/admin/call-log.csv?limit=100001", &api.admin)
        .await
        .refused("limit");
}

async fn the_admin_call_log_shows_everyones_calls_with_their_owner_and_filters(url: &str) {
    let api = api(url).await;
    api.seed(&[
        ended(call(1, ALICE), "completed"),
        ended(call(2, BOB), "far_end_busy"),
        ended(call(3, ALICE), "far_end_busy"),
        call(4, BOB),
    ])
    .await;
    let all = api.get("/api/v1/admin/call-log", &api.admin).await.ok();
    assert_eq!(ids(&all), id_list(&[4, 3, 2, 1]));
    let owners: Vec<&str> = all["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, [BOB, ALICE, BOB, ALICE]);

    let q = |query: &str| format!("/api/v1/admin/call-log?{query}");
    let by = |r: Reply| ids(&r.ok());
    // The SIP address in any case, percent-encoded or not.
    assert_eq!(
        by(api
            .get(&q("user=sip%3AAlice%40Example.com"), &api.admin)
            .await),
        id_list(&[3, 1])
    );
    assert_eq!(
        by(api.get(&q("end_reason=far_end_busy"), &api.admin).await),
        id_list(&[3, 2])
    );
    // since is inclusive, until exclusive; offsets and an unencoded + are understood.
    assert_eq!(
        by(api
            .get(
                &q("since=2024-05-01T09:30:02Z&until=2024-05-01T11:30:04%2B02:00"),
                &api.admin
            )
            .await),
        id_list(&[3, 2])
    );
    assert_eq!(
        by(api
            .get(&q("since=2024-05-01T11:30:03+02:00"), &api.admin)
            .await),
        id_list(&[4, 3])
    );
    assert_eq!(
        by(api.get(&q("since=2024-05-02"), &api.admin).await),
        id_list(&[])
    );
    assert_eq!(
        by(api
            .get(
                &q(&format!("user={BOB}&end_reason=far_end_busy")),
                &api.admin
            )
            .await),
        id_list(&[2])
    );
    let pages = api
        .pages("/api/v1/admin/call-log?limit=3&user=&since=", &api.admin)
        .await;
    assert_eq!(pages, vec![id_list(&[4, 3, 2]), id_list(&[1])]);
}

async fn admin_call_log_routes_are_403_for_a_user_token_and_401_without_one(url: &str) {
    let api = api(url).await;
    api.seed(&[call(1, ALICE)]).await;
    for path in [
        "/api/v1/admin/call-log",
        "/api/v1/admin/call-log.csv",
        "/api/v1/admin/call-log?user=sip:alice@example.com",
    ] {
        let r = api.get(path, &api.alice).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text);
        assert_eq!(r.json()["error"]["code"], "Forbidden");
        assert!(!r.text.contains(&call_id(1)));
        let r = api.send(Method::GET, path, None, Body::empty()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text);
    }
}

/// Splits RFC 4180 text into records of fields (quoted fields may hold `,`, `""` and line
/// breaks), checking that every record ends with CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, '\n') => panic!("bare LF ends a record"),
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "last record without CRLF"
    );
    records
}

const HEADER: [&str; 17] = [
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

async fn the_csv_export_has_a_header_row_quotes_and_neutralises_formulas(url: &str) {
    let api = api(url).await;
    let tricky = CallRecordRow {
        to_text: "Bob \"The Builder\", Sales\nline 2".into(),
        callback_sip_call_id: Some("=HYPERLINK(\"http://evil\")".into()),
        far_sip_call_id: Some("@SUM(A1)".into()),
        media_stats: Some(r#"{"far":{"lost":0}}"#.into()),
        ..ended(call(1, ALICE), "completed")
    };
    let odd = CallRecordRow {
        to_text: "-2+3".into(),
        to_number: "101".into(),
        ..call(2, BOB)
    };
    api.seed(&[tricky, odd]).await;

    let r = api.get("/api/v1/admin/call-log.csv", &api.admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"call-log.csv\"")
    );
    assert_eq!(r.header("x-next-cursor"), None);
    assert!(r.text.starts_with("id,owner,direction,to,"));
    let records = parse_csv(&r.text);
    assert_eq!(records.len(), 3, "{}", r.text);
    assert_eq!(records[0], HEADER);
    assert!(records.iter().all(|rec| rec.len() == HEADER.len()));
    let live = &records[1];
    assert_eq!(live[0], call_id(2));
    assert_eq!(live[1], BOB);
    assert_eq!(live[3], "'-2+3");
    assert_eq!(live[4], "101");
    assert_eq!(live[6], "live");
    assert_eq!(&live[7..9], ["", ""]);
    assert_eq!(live[9], "2024-05-01T09:30:02.000Z");
    assert_eq!(&live[10..], ["", "", "", "", "", "", ""]);
    let done = &records[2];
    assert_eq!(
        done[..10],
        [
            call_id(1).as_str(),
            ALICE,
            "outbound",
            "Bob \"The Builder\", Sales\nline 2",
            "'+14255550123",
            "'+14255550100",
            "ended",
            "completed",
            "far_end",
            "2024-05-01T09:30:01.000Z",
        ]
    );
    assert_eq!(
        done[10..],
        [
            "2024-05-01T09:30:04.000Z",
            "2024-05-01T09:30:06.000Z",
            "2024-05-01T09:31:07.500Z",
            "61",
            "'=HYPERLINK(\"http://evil\")",
            "'@SUM(A1)",
            r#"{"far":{"lost":0}}"#,
        ]
    );
    // The filters apply to the export too.
    let r = api
        .get(
            "/api/v1/admin/call-log.csv?user=sip:bob@example.com",
            &api.admin,
        )
        .await;
    assert_eq!(parse_csv(&r.text).len(), 2, "{}", r.text);
    let r = api
        .get("/api/v1/admin/call-log.csv?since=2030-01-01", &api.admin)
        .await;
    assert_eq!(parse_csv(&r.text), vec![HEADER.to_vec()]);
}

async fn the_csv_export_pages_through_the_store_and_stops_at_its_limit_with_a_cursor(url: &str) {
    let api = api(url).await;
    // More than two of the export's store pages (1000 rows each).
    let rows: Vec<CallRecordRow> = (0..2100)
        .map(|n| call(n, if n % 2 == 0 { ALICE } else { BOB }))
        .collect();
    api.seed(&rows).await;
    let export = |query: String| {
        let api = &api;
        async move {
            let r = api
                .get(&format!("/api/v1/admin/call-log.csv?{query}"), &api.admin)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let ids: Vec<String> = parse_csv(&r.text)
                .into_iter()
                .skip(1)
                .map(|rec| rec[0].clone())
                .collect();
            (ids, r.header("x-next-cursor").map(str::to_owned))
        }
    };
    let newest_first: Vec<String> = (0..2100).rev().map(call_id).collect();

    let (all, next) = export(String::new()).await;
    assert_eq!(all, newest_first);
    assert_eq!(next, None);
    // Exactly all of them: nothing left, no cursor.
    let (exact, next) = export("limit=2100".into()).await;
    assert_eq!((exact.len(), next), (2100, None));
    // Stopping on a page boundary, and off one: the cursor continues without gap or repeat.
    for limit in [1000, 1234] {
        let (first, next) = export(format!("limit={limit}")).await;
        assert_eq!(first, newest_first[..limit]);
        let next = next.expect("a cursor when calls are left");
        let (rest, after) = export(format!("cursor={next}")).await;
        assert_eq!(rest, newest_first[limit..]);
        assert_eq!(after, None);
        let seen: HashSet<&String> = first.iter().chain(&rest).collect();
        assert_eq!(seen.len(), 2100);
    }
    let (alice, _) = export(format!("user={ALICE}&limit=5")).await;
    assert_eq!(alice, id_list(&[2098, 2096, 2094, 2092, 2090]));
}

/// `viawork calllog list` and `viawork calllog export FILE` on a SQLite file.
#[tokio::test]
async fn the_cli_lists_and_exports_the_call_log() {
    let db = backends::Db::sqlite();
    let store = store::open(&db.url).await.expect("open store");
    store
        .upsert_call_records(&[
            ended(call(1, ALICE), "completed"),
            call(2, BOB),
            ended(call(3, ALICE), "far_end_busy"),
        ])
        .await
        .expect("seed");
    store.close().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_viawork"))
            .args(args)
            .args(["--database", &db.url])
            .env_remove("VIAWORK_CONFIG")
            .env_remove("VIAWORK_DATABASE")
            .env_remove("VIAWORK_LOG")
            .current_dir(dir.path())
            .output()
            .expect("run viawork");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, out, err) = run(&["calllog", "list", "--user", ALICE, "--output", "json"]);
    assert!(ok, "{out}{err}");
    let page: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(ids(&page), id_list(&[3, 1]));
    assert_eq!(page["calls"][0]["owner"], ALICE);

    let (ok, out, err) = run(&["calllog", "list", "--limit", "2"]);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("CREATED"), "{out}");
    assert!(
        out.contains("far_end_busy") && out.contains("live"),
        "{out}"
    );
    assert!(out.contains("more: --cursor "), "{out}");

    let (ok, out, err) = run(&[
        "calllog",
        "export",
        "calls.csv",
        "--since",
        "2024-05-01T09:30:02Z",
    ]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("Exported 2 calls to calls.csv"), "{out}");
    let csv = std::fs::read_to_string(dir.path().join("calls.csv")).expect("csv written");
    let records = parse_csv(&csv);
    assert_eq!(records[0], HEADER);
    let exported: Vec<&str> = records[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(exported, [call_id(3), call_id(2)]);

    let (ok, _, err) = run(&["calllog", "list", "--since", "last week"]);
    assert!(!ok);
    assert!(err.contains("since"), "{err}");
    let (ok, _, err) = run(&["calllog", "list", "--limit", "0"]);
    assert!(!ok);
    assert!(err.contains("limit"), "{err}");
}
