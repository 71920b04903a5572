//! The admin API (`/api/v1/admin/...`), in-process: the router from `viawork::api::router`
//! over a store on each backend (SQLite and PostgreSQL, as in `http_api.rs`), driven with
//! `tower::ServiceExt::oneshot`. The first administrator is created with the CLI's service
//! function, as `viawork user new --role admin` does; everything else goes through HTTP.
//!
//! Each test body is an `async fn(store_url)`, expanded by `both_backends!`
//! (`common/backends.rs`) into `on_sqlite::NAME` and `on_postgres::NAME`.

#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/backends.rs"]
#[macro_use]
mod backends;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use viawork::api::{self, AppState, SessionSettings};
use viawork::cli::users::{self, UserInput};
use viawork::store::{self, Store};

const PASSWORD: &str = "S3cret-pass";
const ADMIN: &str = "sip:root@example.com";
const PLAIN: &str = "sip:pat@example.com";
const ALICE: &str = "sip:alice@example.com";
/// `sip:alice@example.com`, percent-encoded for a path.
const ALICE_PATH: &str = "sip%3Aalice%40example.com";

struct Api {
    router: Router,
    store: Arc<dyn Store>,
    admin: String,
    user: String,
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

    /// The error's `(code, field)`.
    fn error(&self) -> (String, Option<String>) {
        let e = &self.json()["error"];
        (
            e["code"].as_str().unwrap_or_default().to_owned(),
            e["field"].as_str().map(str::to_owned),
        )
    }

    /// Asserts the status and that the error names `field`.
    #[track_caller]
    fn refused(&self, status: StatusCode, field: &str) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(self.error().1.as_deref(), Some(field), "{}", self.text);
    }

    #[track_caller]
    fn ok(&self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        self.json()
    }
}

/// A fresh store with an administrator and a plain user, both signed in.
async fn api(store_url: &str) -> Api {
    let store = store::open(store_url).await.expect("open store");
    for (sip_uri, role) in [(ADMIN, "admin"), (PLAIN, "user")] {
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
        user: String::new(),
    };
    api.admin = api.token(ADMIN).await;
    api.user = api.token(PLAIN).await;
    api
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some((content_type, body)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body)),
            None => req.body(Body::empty()),
        }
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

    /// A request with the admin token and a JSON body given as text (so that malformed
    /// bodies can be sent too).
    async fn admin_raw(&self, method: Method, path: &str, body: &str) -> Reply {
        let body = Some(("application/json", body.to_owned()));
        self.send(method, path, Some(&self.admin), body).await
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let body = body.map(|b| ("application/json", b.to_string()));
        self.send(method, path, Some(&self.admin), body).await
    }

    async fn get(&self, path: &str) -> Reply {
        self.admin(Method::GET, path, None).await
    }

    async fn import(&self, query: &str, csv: &str) -> Reply {
        self.import_to("users", query, csv).await
    }

    /// A CSV import of `what` (`users` or `policies`).
    async fn import_to(&self, what: &str, query: &str, csv: &str) -> Reply {
        let path = format!("/api/v1/admin/{what}/import{query}");
        let body = Some(("text/csv", csv.to_owned()));
        self.send(Method::POST, &path, Some(&self.admin), body)
            .await
    }

    async fn token(&self, username: &str) -> String {
        let body = json!({"username": username, "password": PASSWORD}).to_string();
        let r = self
            .send(
                Method::POST,
                "/api/v1/auth/token",
                None,
                Some(("application/json", body)),
            )
            .await;
        r.ok(StatusCode::OK)["access_token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    async fn sip_uris(&self) -> Vec<String> {
        self.get("/api/v1/admin/users")
            .await
            .ok(StatusCode::OK)
            .as_array()
            .expect("list")
            .iter()
            .map(|u| u["sipUri"].as_str().expect("sipUri").to_owned())
            .collect()
    }
}

both_backends!(
    every_admin_route_is_401_without_a_token_and_403_for_a_plain_user,
    an_admin_token_can_do_every_admin_operation,
    a_created_user_is_listed_shown_and_can_sign_in_then_is_changed_and_removed,
    bad_user_input_is_refused_naming_the_field_and_changes_nothing,
    policies_are_created_changed_granted_and_removed_and_global_delete_resets,
    policy_callback_extensions_are_accepted_shown_and_refused_when_bad,
    routing_caller_id_is_set_read_refused_when_bad_and_cleared,
    dial_plan_rules_are_added_listed_tested_and_removed,
    a_dial_plan_rule_is_changed_in_place_and_a_bad_change_changes_nothing,
    policies_import_from_csv_creates_and_updates_or_refuses_the_whole_file,
    csv_import_reports_bad_rows_by_line_and_imports_all_or_only_the_good_ones,
    a_store_that_is_down_is_503,
);

fn new_alice() -> Value {
    json!({"sipUri": ALICE, "displayName": "Alice Smith", "password": PASSWORD,
           "lineUri": "tel:+14255550101", "enterpriseVoice": true})
}

/// Every admin route, with a body where it takes one.
fn every_route() -> Vec<(Method, String, Option<Value>)> {
    let user = format!("/api/v1/admin/users/{ALICE_PATH}");
    vec![
        (Method::GET, "/api/v1/admin/users".into(), None),
        (
            Method::POST,
            "/api/v1/admin/users".into(),
            Some(new_alice()),
        ),
        (Method::GET, user.clone(), None),
        (Method::PATCH, user.clone(), Some(json!({"title": "x"}))),
        (
            Method::PUT,
            format!("{user}/policy"),
            Some(json!({"policy": null})),
        ),
        (Method::DELETE, user.clone(), None),
        (Method::GET, "/api/v1/admin/policies".into(), None),
        (
            Method::POST,
            "/api/v1/admin/policies".into(),
            Some(json!({"identity": "Tag:Sales"})),
        ),
        (Method::GET, "/api/v1/admin/policies/Global".into(), None),
        (
            Method::PATCH,
            "/api/v1/admin/policies/Global".into(),
            Some(json!({"enabled": true})),
        ),
        (Method::DELETE, "/api/v1/admin/policies/Global".into(), None),
        (Method::GET, "/api/v1/admin/routing".into(), None),
        (
            Method::PUT,
            "/api/v1/admin/routing".into(),
            Some(json!({"callViaWorkCallerId": null})),
        ),
        (Method::GET, "/api/v1/admin/dialplan/rules".into(), None),
        (
            Method::POST,
            "/api/v1/admin/dialplan/rules".into(),
            Some(
                json!({"name": "Ext", "pattern": "^(\\d{3})$", "translation": "$1",
                        "isInternalExtension": true}),
            ),
        ),
        (
            Method::PUT,
            "/api/v1/admin/dialplan/rules/Ext".into(),
            Some(
                json!({"name": "Ext", "pattern": "^(\\d{4})$", "translation": "$1",
                        "isInternalExtension": true}),
            ),
        ),
        (
            Method::DELETE,
            "/api/v1/admin/dialplan/rules/Ext".into(),
            None,
        ),
        (
            Method::POST,
            "/api/v1/admin/dialplan/test".into(),
            Some(json!({"number": "101"})),
        ),
    ]
}

async fn every_admin_route_is_401_without_a_token_and_403_for_a_plain_user(store_url: &str) {
    let api = api(store_url).await;
    let before = api.sip_uris().await;
    let mut routes = every_route();
    routes.push((Method::POST, "/api/v1/admin/users/import".into(), None));
    routes.push((Method::POST, "/api/v1/admin/policies/import".into(), None));
    for (method, path, body) in routes {
        let body = body.map(|b| ("application/json", b.to_string()));
        let r = api.send(method.clone(), &path, None, body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
        let r = api.send(method.clone(), &path, Some(&api.user), body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(r.error().0, "Forbidden");
    }
    assert_eq!(api.sip_uris().await, before, "nothing may change");
    assert_eq!(
        api.get("/api/v1/admin/policies/Global").await.json()["enabled"],
        false
    );
}

async fn an_admin_token_can_do_every_admin_operation(store_url: &str) {
    let api = api(store_url).await;
    for (method, path, body) in every_route() {
        let r = api.admin(method.clone(), &path, body).await;
        assert!(
            r.status.is_success(),
            "{method} {path}: {} {}",
            r.status,
            r.text
        );
    }
}

async fn a_created_user_is_listed_shown_and_can_sign_in_then_is_changed_and_removed(
    store_url: &str,
) {
    let api = api(store_url).await;
    let r = api
        .admin(Method::POST, "/api/v1/admin/users", Some(new_alice()))
        .await;
    let created = r.ok(StatusCode::CREATED);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/admin/users/{ALICE_PATH}"));
    assert_eq!(created["sipUri"], ALICE);
    assert_eq!(created["passwordSet"], true);
    assert!(created.get("passwordHash").is_none(), "{created}");
    assert!(!r.text.contains("argon2"), "no secrets: {}", r.text);

    let shown = api.get(&location).await.ok(StatusCode::OK);
    assert_eq!(shown["displayName"], "Alice Smith");
    assert_eq!(shown["effectivePolicy"]["identity"], "Global");
    assert_eq!(shown["effectivePolicySource"], "global");
    assert!(api.sip_uris().await.contains(&ALICE.to_owned()));
    let page = api
        .get("/api/v1/admin/users?limit=1&after=sip:pat@example.com")
        .await
        .ok(StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0]["sipUri"], ADMIN);

    let token = api.token(ALICE).await;
    let me = api
        .send(Method::GET, "/api/v1/me", Some(&token), None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(me["sipUri"], ALICE);
    assert_eq!(me["lineUri"], "tel:+14255550101");
    // A user made by the admin API is not an administrator.
    let r = api
        .send(Method::GET, "/api/v1/admin/users", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let changed = api
        .admin(
            Method::PATCH,
            &location,
            Some(json!({"title": "Ingénieure", "department": "Ventes"})),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(changed["title"], "Ingénieure");
    assert_eq!(changed["displayName"], "Alice Smith");

    let removed = api
        .admin(Method::DELETE, &location, None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(removed["sipUri"], ALICE);
    api.get(&location)
        .await
        .refused(StatusCode::NOT_FOUND, "sipUri");
    let r = api
        .send(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "its tokens go too");
}

async fn bad_user_input_is_refused_naming_the_field_and_changes_nothing(store_url: &str) {
    let api = api(store_url).await;
    api.admin(Method::POST, "/api/v1/admin/users", Some(new_alice()))
        .await
        .ok(StatusCode::CREATED);
    let before = api.sip_uris().await;
    let post = |body: Value| api.admin(Method::POST, "/api/v1/admin/users", Some(body));
    let with = |key: &str, value: Value| {
        let mut body = new_alice();
        body["sipUri"] = json!("sip:bob@example.com");
        body[key] = value;
        body
    };

    let r = post(new_alice()).await;
    r.refused(StatusCode::CONFLICT, "sipUri");
    assert_eq!(r.error().0, "Conflict");
    post(with("sipUri", json!("bob@")))
        .await
        .refused(StatusCode::BAD_REQUEST, "sipUri");
    post(with("sipUri", json!(42)))
        .await
        .refused(StatusCode::BAD_REQUEST, "sipUri");
    let mut no_uri = new_alice();
    no_uri.as_object_mut().unwrap().remove("sipUri");
    post(no_uri)
        .await
        .refused(StatusCode::BAD_REQUEST, "sipUri");
    post(with("lineUri", json!("+14255550101")))
        .await
        .refused(StatusCode::BAD_REQUEST, "lineUri");
    post(with("lineUri", json!("tel:+0123")))
        .await
        .refused(StatusCode::BAD_REQUEST, "lineUri");
    post(with("lineUri", json!("tel:+1")))
        .await
        .refused(StatusCode::BAD_REQUEST, "lineUri");
    post(with("password", json!("short")))
        .await
        .refused(StatusCode::BAD_REQUEST, "password");
    post(with("enterpriseVoice", json!("yes")))
        .await
        .refused(StatusCode::BAD_REQUEST, "enterpriseVoice");
    post(with("colour", json!("blue")))
        .await
        .refused(StatusCode::BAD_REQUEST, "colour");
    post(with("role", json!("root")))
        .await
        .refused(StatusCode::BAD_REQUEST, "role");
    post(with("displayName", json!("x".repeat(10_000))))
        .await
        .refused(StatusCode::BAD_REQUEST, "displayName");
    post(with("pin", json!("12345")))
        .await
        .refused(StatusCode::BAD_REQUEST, "pin");

    let r = api
        .admin_raw(
            Method::POST,
            "/api/v1/admin/users",
            r#"{"sipUri": "sip:bob@"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error(), ("MalformedJson".to_owned(), None));
    let r = api
        .admin_raw(Method::POST, "/api/v1/admin/users", "[1, 2]")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let alice = format!("/api/v1/admin/users/{ALICE_PATH}");
    api.admin(
        Method::PATCH,
        &alice,
        Some(json!({"email": "not-an-email"})),
    )
    .await
    .refused(StatusCode::BAD_REQUEST, "email");
    api.admin(Method::PATCH, &alice, Some(json!({"enabled": 1})))
        .await
        .refused(StatusCode::BAD_REQUEST, "enabled");
    api.admin(
        Method::PATCH,
        "/api/v1/admin/users/sip%3Anobody%40example.com",
        Some(json!({"title": "x"})),
    )
    .await
    .refused(StatusCode::NOT_FOUND, "sipUri");
    api.get("/api/v1/admin/users/not-a-uri")
        .await
        .refused(StatusCode::BAD_REQUEST, "sipUri");
    api.get("/api/v1/admin/users?limit=0")
        .await
        .refused(StatusCode::BAD_REQUEST, "limit");
    api.get("/api/v1/admin/users?limt=5")
        .await
        .refused(StatusCode::BAD_REQUEST, "limt");

    assert_eq!(api.sip_uris().await, before, "nothing may change");
    let alice = api.get(&alice).await.ok(StatusCode::OK);
    assert_eq!(alice["email"], "");
    assert_eq!(alice["enabled"], true);
}

async fn policies_are_created_changed_granted_and_removed_and_global_delete_resets(
    store_url: &str,
) {
    let api = api(store_url).await;
    api.admin(Method::POST, "/api/v1/admin/users", Some(new_alice()))
        .await
        .ok(StatusCode::CREATED);
    let policies = "/api/v1/admin/policies";
    let sales = json!({"identity": "Tag:Sales", "enabled": true,
                       "useAdminCallbackNumber": true, "adminCallbackNumber": "+14255550199"});
    let r = api.admin(Method::POST, policies, Some(sales.clone())).await;
    assert_eq!(
        r.ok(StatusCode::CREATED)["adminCallbackNumber"],
        "+14255550199"
    );
    assert_eq!(
        r.headers[header::LOCATION],
        "/api/v1/admin/policies/Tag%3ASales"
    );

    let post = |body: Value| api.admin(Method::POST, policies, Some(body));
    post(sales.clone())
        .await
        .refused(StatusCode::CONFLICT, "identity");
    post(json!({"identity": "Global"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "identity");
    post(json!({"identity": "Dept:Sales"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "identity");
    post(json!({"identity": "Tag:Sales'; DROP TABLE users;--"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "identity");
    post(json!({"identity": "Tag:Bad", "adminCallbackNumber": "+0123"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "adminCallbackNumber");
    post(json!({"identity": "Tag:Bad", "enabled": "true"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "enabled");
    post(json!({"identity": "Tag:Bad", "extra": 1}))
        .await
        .refused(StatusCode::BAD_REQUEST, "extra");
    let list = api.get(policies).await.ok(StatusCode::OK);
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["identity"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["Global", "Tag:Sales"]);

    let changed = api
        .admin(
            Method::PATCH,
            "/api/v1/admin/policies/tag:sales",
            Some(json!({"useAdminCallbackNumber": false})),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(changed["identity"], "Tag:Sales");
    assert_eq!(changed["useAdminCallbackNumber"], false);
    api.get("/api/v1/admin/policies/Tag:Nope")
        .await
        .refused(StatusCode::NOT_FOUND, "identity");

    let grant = format!("/api/v1/admin/users/{ALICE_PATH}/policy");
    let g = api
        .admin(Method::PUT, &grant, Some(json!({"policy": "Tag:Sales"})))
        .await
        .ok(StatusCode::OK);
    assert_eq!(g["policyName"], "Tag:Sales");
    let alice = api
        .get(&format!("/api/v1/admin/users/{ALICE_PATH}"))
        .await
        .ok(StatusCode::OK);
    assert_eq!(alice["effectivePolicy"]["identity"], "Tag:Sales");
    assert_eq!(alice["effectivePolicySource"], "user");
    api.admin(Method::PUT, &grant, Some(json!({"policy": "Tag:Nope"})))
        .await
        .refused(StatusCode::NOT_FOUND, "policy");
    api.admin(Method::PUT, &grant, Some(json!({"policy": "Global"})))
        .await
        .refused(StatusCode::BAD_REQUEST, "policy");
    api.admin(Method::PUT, &grant, Some(json!({})))
        .await
        .refused(StatusCode::BAD_REQUEST, "policy");
    api.admin(
        Method::PUT,
        "/api/v1/admin/users/sip%3Anobody%40example.com/policy",
        Some(json!({"policy": "Tag:Sales"})),
    )
    .await
    .refused(StatusCode::NOT_FOUND, "sipUri");
    let g = api
        .admin(Method::PUT, &grant, Some(json!({"policy": null})))
        .await
        .ok(StatusCode::OK);
    assert_eq!(g["policyName"], Value::Null);

    let removed = api
        .admin(Method::DELETE, "/api/v1/admin/policies/Tag:Sales", None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(removed["outcome"], "removed");
    api.get("/api/v1/admin/policies/Tag:Sales")
        .await
        .refused(StatusCode::NOT_FOUND, "identity");

    api.admin(
        Method::PATCH,
        "/api/v1/admin/policies/Global",
        Some(json!({"enabled": true, "adminCallbackNumber": "+14255550100"})),
    )
    .await
    .ok(StatusCode::OK);
    let reset = api
        .admin(Method::DELETE, "/api/v1/admin/policies/Global", None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(reset["outcome"], "reset");
    assert_eq!(reset["policy"]["identity"], "Global");
    assert_eq!(reset["policy"]["enabled"], false);
    assert_eq!(reset["policy"]["adminCallbackNumber"], Value::Null);
    let global = api
        .get("/api/v1/admin/policies/Global")
        .await
        .ok(StatusCode::OK);
    assert_eq!(global, reset["policy"]);
}

/// The ViaWork extensions `allowInternationalCallback` / `allowPremiumCallback`: false unless
/// given, changed alone by PATCH, in every answer, a bad value 400 naming the field, and
/// reset with Global.
async fn policy_callback_extensions_are_accepted_shown_and_refused_when_bad(store_url: &str) {
    let api = api(store_url).await;
    let policies = "/api/v1/admin/policies";
    let plain = api
        .admin(
            Method::POST,
            policies,
            Some(json!({"identity": "Tag:Plain", "enabled": true})),
        )
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(plain["allowInternationalCallback"], false);
    assert_eq!(plain["allowPremiumCallback"], false);
    let travel = api
        .admin(
            Method::POST,
            policies,
            Some(json!({"identity": "Tag:Travel", "enabled": true,
                        "allowInternationalCallback": true})),
        )
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(travel["allowInternationalCallback"], true);
    assert_eq!(travel["allowPremiumCallback"], false);

    let path = "/api/v1/admin/policies/Tag:Travel";
    let changed = api
        .admin(
            Method::PATCH,
            path,
            Some(json!({"allowPremiumCallback": true})),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(changed["allowInternationalCallback"], true, "kept");
    assert_eq!(changed["allowPremiumCallback"], true);
    assert_eq!(changed["enabled"], true);
    assert_eq!(api.get(path).await.ok(StatusCode::OK), changed);
    let list = api.get(policies).await.ok(StatusCode::OK);
    assert_eq!(list[0]["identity"], "Global");
    assert_eq!(list[0]["allowInternationalCallback"], false);
    assert_eq!(list[2], changed);

    for field in ["allowInternationalCallback", "allowPremiumCallback"] {
        for bad in [json!("true"), json!(1), json!("yes")] {
            api.admin(Method::PATCH, path, Some(json!({ field: bad.clone() })))
                .await
                .refused(StatusCode::BAD_REQUEST, field);
            api.admin(
                Method::POST,
                policies,
                Some(json!({"identity": "Tag:Bad", field: bad})),
            )
            .await
            .refused(StatusCode::BAD_REQUEST, field);
        }
    }
    api.admin(
        Method::PATCH,
        path,
        Some(json!({"allowInternationalCalback": true})),
    )
    .await
    .refused(StatusCode::BAD_REQUEST, "allowInternationalCalback");
    assert_eq!(api.get(path).await.ok(StatusCode::OK), changed, "unchanged");
    api.get("/api/v1/admin/policies/Tag:Bad")
        .await
        .refused(StatusCode::NOT_FOUND, "identity");

    // The user's details carry them in the effective policy.
    api.admin(Method::POST, "/api/v1/admin/users", Some(new_alice()))
        .await
        .ok(StatusCode::CREATED);
    let grant = format!("/api/v1/admin/users/{ALICE_PATH}/policy");
    api.admin(Method::PUT, &grant, Some(json!({"policy": "Tag:Travel"})))
        .await
        .ok(StatusCode::OK);
    let alice = api
        .get(&format!("/api/v1/admin/users/{ALICE_PATH}"))
        .await
        .ok(StatusCode::OK);
    assert_eq!(alice["effectivePolicy"]["allowInternationalCallback"], true);
    assert_eq!(alice["effectivePolicy"]["allowPremiumCallback"], true);

    // Removing Global resets them with the rest.
    let global = "/api/v1/admin/policies/Global";
    let set = api
        .admin(
            Method::PATCH,
            global,
            Some(json!({"allowInternationalCallback": true, "allowPremiumCallback": true})),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(set["allowInternationalCallback"], true);
    let reset = api
        .admin(Method::DELETE, global, None)
        .await
        .ok(StatusCode::OK);
    assert_eq!(reset["policy"]["allowInternationalCallback"], false);
    assert_eq!(reset["policy"]["allowPremiumCallback"], false);
}

async fn routing_caller_id_is_set_read_refused_when_bad_and_cleared(store_url: &str) {
    let api = api(store_url).await;
    let routing = "/api/v1/admin/routing";
    let put = |body: Value| api.admin(Method::PUT, routing, Some(body));
    let set = put(json!({"callViaWorkCallerId": "+15551234567"}))
        .await
        .ok(StatusCode::OK);
    assert_eq!(set["callViaWorkCallerId"], "+15551234567");
    assert_eq!(api.get(routing).await.ok(StatusCode::OK), set);
    for bad in [json!("5551234567"), json!("+0123"), json!(15551234567_u64)] {
        put(json!({"callViaWorkCallerId": bad}))
            .await
            .refused(StatusCode::BAD_REQUEST, "callViaWorkCallerId");
    }
    put(json!({}))
        .await
        .refused(StatusCode::BAD_REQUEST, "callViaWorkCallerId");
    put(json!({"callerId": "+15551234567"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "callerId");
    assert_eq!(api.get(routing).await.ok(StatusCode::OK), set);
    let cleared = put(json!({"callViaWorkCallerId": null}))
        .await
        .ok(StatusCode::OK);
    assert_eq!(cleared["callViaWorkCallerId"], Value::Null);
}

async fn dial_plan_rules_are_added_listed_tested_and_removed(store_url: &str) {
    let api = api(store_url).await;
    api.admin(Method::POST, "/api/v1/admin/users", Some(new_alice()))
        .await
        .ok(StatusCode::CREATED);
    let rules = "/api/v1/admin/dialplan/rules";
    let post = |body: Value| api.admin(Method::POST, rules, Some(body));
    let rule = post(json!({"name": "Local-7", "pattern": "^(\\d{7})$", "translation": "+1425$1"}))
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(rule["scope"], "global");
    post(
        json!({"name": "Ext", "pattern": "^(\\d{3})$", "translation": "$1",
                "isInternalExtension": true, "position": 0}),
    )
    .await
    .ok(StatusCode::CREATED);
    post(json!({"user": ALICE, "name": "UK", "pattern": "^0(\\d{10})$", "translation": "+44$1"}))
        .await
        .ok(StatusCode::CREATED);

    // Rule names are unique in their plan, ignoring case (a domain rule: 400).
    post(json!({"name": "local-7", "pattern": "1", "translation": "+1"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "name");
    post(json!({"name": "Bad", "pattern": "(", "translation": "+1"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "pattern");
    post(json!({"name": "Bad", "pattern": "1", "translation": "+1", "position": -1}))
        .await
        .refused(StatusCode::BAD_REQUEST, "position");
    post(json!({"name": "Bad", "pattern": "1"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "translation");
    post(
        json!({"user": "sip:nobody@example.com", "name": "X", "pattern": "1", "translation": "+1"}),
    )
    .await
    .refused(StatusCode::NOT_FOUND, "sipUri");

    let names = |list: Value| -> Vec<String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(api.get(rules).await.ok(StatusCode::OK)),
        ["Ext", "Local-7"]
    );
    let alice_rules = format!("{rules}?user={ALICE_PATH}");
    assert_eq!(
        names(api.get(&alice_rules).await.ok(StatusCode::OK)),
        ["UK"]
    );

    let test = |body: Value| api.admin(Method::POST, "/api/v1/admin/dialplan/test", Some(body));
    let t = test(json!({"number": "555-0101"})).await.ok(StatusCode::OK);
    assert_eq!(t["dialPlan"], "global");
    assert_eq!(t["normalized"]["ruleName"], "Local-7");
    assert_eq!(t["normalized"]["result"]["value"], "+14255550101");
    let t = test(json!({"user": ALICE, "number": "02071234567"}))
        .await
        .ok(StatusCode::OK);
    assert_eq!(t["dialPlan"], ALICE);
    assert_eq!(t["normalized"]["result"]["value"], "+442071234567");
    let t = test(json!({"number": "12"})).await.ok(StatusCode::OK);
    assert_eq!(t["normalized"], Value::Null);
    test(json!({"user": ALICE}))
        .await
        .refused(StatusCode::BAD_REQUEST, "number");
    test(json!({"number": 5550101}))
        .await
        .refused(StatusCode::BAD_REQUEST, "number");

    api.admin(Method::DELETE, &format!("{rules}/ext"), None)
        .await
        .ok(StatusCode::OK);
    api.admin(Method::DELETE, &format!("{rules}/Ext"), None)
        .await
        .refused(StatusCode::NOT_FOUND, "name");
    api.admin(
        Method::DELETE,
        &format!("{rules}/UK?user={ALICE_PATH}"),
        None,
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(names(api.get(rules).await.ok(StatusCode::OK)), ["Local-7"]);
    assert!(names(api.get(&alice_rules).await.ok(StatusCode::OK)).is_empty());
}

async fn a_dial_plan_rule_is_changed_in_place_and_a_bad_change_changes_nothing(store_url: &str) {
    let api = &api(store_url).await;
    let rules = "/api/v1/admin/dialplan/rules";
    for (name, pattern, translation, ext) in [
        ("Ext", "^(\\d{3})$", "$1", true),
        ("Local-7", "^(\\d{7})$", "+1425$1", false),
        ("Intl", "^011(\\d+)$", "+$1", false),
    ] {
        api.admin(
            Method::POST,
            rules,
            Some(
                json!({"name": name, "pattern": pattern, "translation": translation,
                        "isInternalExtension": ext}),
            ),
        )
        .await
        .ok(StatusCode::CREATED);
    }
    let listed = || async {
        api.get(rules)
            .await
            .ok(StatusCode::OK)
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r["position"], r["name"], r["pattern"], r["translation"]
                )
            })
            .collect::<Vec<_>>()
    };
    let before = listed().await;

    // Renamed and retranslated (the name in the path ignores case): same place.
    let put = |path: String, body: Value| async move {
        api.admin(Method::PUT, &format!("{rules}/{path}"), Some(body))
            .await
    };
    let changed = put(
        "local-7".into(),
        json!({"name": "Local", "pattern": "^(\\d{7})$", "translation": "+1206$1"}),
    )
    .await
    .ok(StatusCode::OK);
    assert_eq!(changed["position"], 1);
    assert_eq!(changed["name"], "Local");
    let t = api
        .admin(
            Method::POST,
            "/api/v1/admin/dialplan/test",
            Some(json!({"number": "5550101"})),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(t["normalized"]["ruleName"], "Local");
    assert_eq!(t["normalized"]["result"]["value"], "+12065550101");

    // Moved first with `position`.
    put(
        "Intl".into(),
        json!({"name": "Intl", "pattern": "^011(\\d+)$", "translation": "+$1", "position": 0}),
    )
    .await
    .ok(StatusCode::OK);
    let order: Vec<String> = listed()
        .await
        .iter()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(order, ["0 \"Intl\"", "1 \"Ext\"", "2 \"Local\""]);

    // Refusals name the field and leave the plan as it was.
    let now = listed().await;
    put(
        "Local".into(),
        json!({"name": "ext", "pattern": "1", "translation": "+1"}),
    )
    .await
    .refused(StatusCode::BAD_REQUEST, "name");
    put(
        "Local".into(),
        json!({"name": "Local", "pattern": "(", "translation": "+1"}),
    )
    .await
    .refused(StatusCode::BAD_REQUEST, "pattern");
    put("Local".into(), json!({"name": "Local", "pattern": "1"}))
        .await
        .refused(StatusCode::BAD_REQUEST, "translation");
    put(
        "Nope".into(),
        json!({"name": "Nope", "pattern": "1", "translation": "+1"}),
    )
    .await
    .refused(StatusCode::NOT_FOUND, "name");
    put(
        "Local?user=sip%3Anobody%40example.com".into(),
        json!({"name": "Local", "pattern": "1", "translation": "+1"}),
    )
    .await
    .refused(StatusCode::NOT_FOUND, "sipUri");
    assert_eq!(listed().await, now);
    assert_ne!(now, before);
}

async fn policies_import_from_csv_creates_and_updates_or_refuses_the_whole_file(store_url: &str) {
    let api = api(store_url).await;
    api.admin(
        Method::POST,
        "/api/v1/admin/policies",
        Some(json!({"identity": "Tag:Sales", "enabled": false})),
    )
    .await
    .ok(StatusCode::CREATED);
    let csv = "\"Identity\",\"Enabled\",\"UseAdminCallbackNumber\",\"AdminCallbackNumber\"\r\n\
               \"Tag:Sales\",\"True\",\"False\",\"\"\r\n\
               \"Tag:Support\",\"True\",\"True\",\"+14255550100\"\r\n";
    let report = api.import_to("policies", "", csv).await.ok(StatusCode::OK);
    assert_eq!(report["committed"], true);
    assert_eq!(report["imported"], 2);
    let sales = api
        .get("/api/v1/admin/policies/Tag%3ASales")
        .await
        .ok(StatusCode::OK);
    assert_eq!(sales["enabled"], true, "an existing policy is updated");
    let support = api
        .get("/api/v1/admin/policies/Tag%3ASupport")
        .await
        .ok(StatusCode::OK);
    assert_eq!(support["useAdminCallbackNumber"], true);
    assert_eq!(support["adminCallbackNumber"], "+14255550100");

    let bad = "Identity,Enabled\nTag:Ops,True\nTag:Bad,perhaps\n";
    let report = api
        .import_to("policies", "?skip_bad_rows=false", bad)
        .await
        .ok(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(report["committed"], false);
    let failed: Vec<(u64, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(failed, [(3, "enabled")]);
    api.get("/api/v1/admin/policies/Tag%3AOps")
        .await
        .refused(StatusCode::NOT_FOUND, "identity");
    let report = api
        .import_to("policies", "?skip_bad_rows=true", bad)
        .await
        .ok(StatusCode::OK);
    assert_eq!(report["imported"], 1);
    api.get("/api/v1/admin/policies/Tag%3AOps")
        .await
        .ok(StatusCode::OK);

    api.import_to("policies", "", "Enabled\nTrue\n")
        .await
        .refused(StatusCode::BAD_REQUEST, "body");
    let r = api
        .send(
            Method::POST,
            "/api/v1/admin/policies/import",
            Some(&api.admin),
            Some(("application/json", "{}".to_owned())),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn csv_import_reports_bad_rows_by_line_and_imports_all_or_only_the_good_ones(
    store_url: &str,
) {
    let api = api(store_url).await;
    let good = "\"Identity\",\"SipAddress\",\"DisplayName\",\"LineURI\",\"EnterpriseVoiceEnabled\",\"Enabled\"\r\n\
                \"CN=Carol\",\"sip:carol@example.com\",\"Carol Müller\",\"tel:+14255550103\",\"True\",\"True\"\r\n\
                \"CN=Dan\",\"sip:dan@example.com\",\"Dan\",\"\",\"False\",\"False\"\r\n";
    let r = api.import("", good).await;
    let report = r.ok(StatusCode::OK);
    assert_eq!(report["committed"], true);
    assert_eq!(report["imported"], 2);
    let carol = api
        .get("/api/v1/admin/users/sip%3Acarol%40example.com")
        .await
        .ok(StatusCode::OK);
    assert_eq!(carol["displayName"], "Carol Müller");
    assert_eq!(carol["passwordSet"], false);

    let bad = "SipAddress,DisplayName,LineURI,EnterpriseVoiceEnabled\n\
               sip:erin@example.com,Erin,tel:+14255550104,True\n\
               sip:frank@example.com,Frank,+14255550105,True\n\
               sip:carol@example.com,Carol again,,False\n\
               sip:gina@example.com,Gina,,maybe\n";
    let before = api.sip_uris().await;
    let r = api.import("?skip_bad_rows=false", bad).await;
    let report = r.ok(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(report["committed"], false);
    let failed: Vec<(u64, &str)> = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "failed")
        .map(|r| (r["line"].as_u64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [(3, "lineUri"), (4, "sipUri"), (5, "enterpriseVoice")]
    );
    assert_eq!(api.sip_uris().await, before, "nothing may be imported");

    let report = api
        .import("?skip_bad_rows=true", bad)
        .await
        .ok(StatusCode::OK);
    assert_eq!(report["committed"], true);
    assert_eq!(report["imported"], 1);
    assert_eq!(report["failed"], 3);
    assert!(api
        .sip_uris()
        .await
        .contains(&"sip:erin@example.com".to_owned()));

    api.import("", "DisplayName\nNobody\n")
        .await
        .refused(StatusCode::BAD_REQUEST, "body");
    api.import("?skip_bad_rows=perhaps", good)
        .await
        .refused(StatusCode::BAD_REQUEST, "skip_bad_rows");
    let r = api
        .send(
            Method::POST,
            "/api/v1/admin/users/import",
            Some(&api.admin),
            Some(("application/json", "{}".to_owned())),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn a_store_that_is_down_is_503(store_url: &str) {
    let api = api(store_url).await;
    api.store.close().await;
    let r = api.get("/api/v1/admin/policies").await;
    // The admin's token cannot be checked either: the extractor answers first.
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
}
