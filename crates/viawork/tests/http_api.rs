//! The HTTP API, in-process: the router from `viawork::api::router` over a store on each
//! backend — a temporary SQLite file and a fresh database on the private PostgreSQL cluster
//! of `common/postgres.rs` — driven with `tower::ServiceExt::oneshot`; users are created
//! through the store and the domain types. One test starts the real binary and asks
//! `/healthz` over TCP.
//!
//! Each test body is an `async fn(store_url)`, expanded by `both_backends!`
//! (`common/backends.rs`) into `on_sqlite::NAME` and `on_postgres::NAME`.

mod common;
#[path = "common/postgres.rs"]
mod postgres;
#[path = "common/backends.rs"]
#[macro_use]
mod backends;

use std::io::{Read, Write};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;
use viawork::api::{self, AdminUser, AppState, SessionSettings};
use viawork::domain::{Password, PasswordHash};
use viawork::store::{self, hash_token, LockoutPolicy, PolicyRow, Store, TokenRow, UserRow};

const PASSWORD: &str = "S3cret-pass";

struct Api {
    router: Router,
    store: Arc<dyn Store>,
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
}

async fn api(store_url: &str) -> Api {
    api_with(store_url, SessionSettings::default()).await
}

async fn api_with(store_url: &str, settings: SessionSettings) -> Api {
    let store = store::open(store_url).await.expect("open store");
    let state = AppState::new(store.clone(), settings, vec!["udp:127.0.0.1:5060".into()]);
    // A probe route for the admin extractor, which later admin routes will use.
    let probe = Router::new()
        .route("/probe/admin", get(|_: AdminUser| async { "admin" }))
        .with_state(state.clone());
    Api {
        router: api::router(state).merge(probe),
        store,
    }
}

impl Api {
    async fn user(&self, sip_uri: &str, role: &str, enabled: bool) -> UserRow {
        let hash = PasswordHash::hash(&Password::new(PASSWORD).unwrap());
        self.store
            .create_user(&UserRow {
                sip_uri: sip_uri.into(),
                display_name: "Alice Smith".into(),
                email: sip_uri.trim_start_matches("sip:").replace('@', ".mail@"),
                line_uri: "tel:+14255550100;ext=101".into(),
                enabled,
                role: role.into(),
                password_hash: hash.as_phc().into(),
                ..UserRow::default()
            })
            .await
            .expect("create user")
    }

    async fn send(&self, req: Request<Body>) -> Reply {
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

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post_raw(&self, path: &str, body: &str) -> Reply {
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap();
        self.send(req).await
    }

    async fn sign_in(&self, username: &str, password: &str) -> Reply {
        let body = json!({"username": username, "password": password}).to_string();
        self.post_raw("/api/v1/auth/token", &body).await
    }

    async fn token(&self, username: &str) -> String {
        let r = self.sign_in(username, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["access_token"].as_str().unwrap().to_owned()
    }
}

both_backends!(
    healthz_reports_store_and_sip_listeners_and_degrades_without_the_store,
    metrics_are_prometheus_text_with_a_request_counter,
    a_token_signs_in_and_me_shows_the_user_and_their_policy,
    me_shows_the_callback_extensions_of_the_whole_effective_policy,
    wrong_password_and_unknown_user_get_identical_401s,
    repeated_failures_give_429_with_retry_after_then_lock_out,
    a_revoked_token_is_refused,
    expired_missing_and_garbage_tokens_are_refused,
    bad_bodies_get_400_naming_the_field,
    disabled_users_cannot_sign_in_or_use_old_tokens,
    the_admin_extractor_refuses_users_with_403,
    the_real_server_answers_healthz_over_tcp,
);

fn error_of(r: &Reply) -> (String, Option<String>) {
    let e = &r.json()["error"];
    (
        e["code"].as_str().unwrap_or_default().to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

async fn healthz_reports_store_and_sip_listeners_and_degrades_without_the_store(store_url: &str) {
    let api = api(store_url).await;
    let r = api.get("/healthz", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"status": "ok", "store": {"reachable": true},
               "sip": {"listeners": ["udp:127.0.0.1:5060"]}})
    );
    api.store.close().await;
    let r = api.get("/healthz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json()["status"], "degraded");
    assert_eq!(r.json()["store"]["reachable"], false);
}

async fn metrics_are_prometheus_text_with_a_request_counter(store_url: &str) {
    let api = api(store_url).await;
    api.get("/healthz", None).await;
    let r = api.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert!(
        r.text
            .contains("# TYPE viawork_http_requests_total counter"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with("viawork_http_requests_total{")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")),
        "{}",
        r.text
    );
}

async fn a_token_signs_in_and_me_shows_the_user_and_their_policy(store_url: &str) {
    let api = api(store_url).await;
    api.store
        .create_policy(&PolicyRow {
            identity: "Tag:Sales".into(),
            enabled: true,
            use_admin_callback_number: true,
            admin_callback_number: Some("+14255550199".into()),
            ..PolicyRow::default()
        })
        .await
        .unwrap();
    let alice = api.user("sip:alice@example.com", "user", true).await;
    api.store
        .set_policy_grant(alice.id, Some("Tag:Sales"))
        .await
        .unwrap();

    let r = api.sign_in("SIP:Alice@Example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 8 * 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    // Only the hash is stored.
    let stored = api.store.find_valid_token(token, 0).await.unwrap();
    assert!(stored.is_none());

    let me = api.get("/api/v1/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.text);
    let me_json = me.json();
    assert_eq!(me_json["sipUri"], "sip:alice@example.com");
    assert_eq!(me_json["role"], "user");
    assert_eq!(me_json["callViaWork"]["policy"]["identity"], "Tag:Sales");
    assert_eq!(me_json["callViaWork"]["callbackNumber"], "tel:+14255550199");
    assert_eq!(me_json["callViaWork"]["callbackSource"], "adminRequired");
    assert!(!me.text.contains("argon2") && !me.text.to_lowercase().contains("hash"));

    // The email works as a user name too.
    let token = api.token("alice.mail@example.com").await;
    let me = api.get("/api/v1/me", Some(&token)).await;
    assert_eq!(me.json()["sipUri"], "sip:alice@example.com");
    // Global (disabled by default) applies without a grant.
    api.store.set_policy_grant(alice.id, None).await.unwrap();
    let me = api.get("/api/v1/me", Some(&token)).await.json();
    assert_eq!(me["callViaWork"]["policy"]["identity"], "Global");
    assert_eq!(me["callViaWork"]["callbackNumber"], Value::Null);
}

/// `AllowInternationalCallback` / `AllowPremiumCallback` come with the effective policy,
/// which is chosen whole (grant → site → global): a grant that allows nothing hides a site
/// policy that allows both.
async fn me_shows_the_callback_extensions_of_the_whole_effective_policy(store_url: &str) {
    let api = api(store_url).await;
    let policy = |identity: &str, international: bool, premium: bool| PolicyRow {
        identity: identity.into(),
        enabled: true,
        allow_international_callback: international,
        allow_premium_callback: premium,
        ..PolicyRow::default()
    };
    let site = policy("Site:London", true, true);
    assert_eq!(api.store.create_policy(&site).await.unwrap(), site);
    api.store
        .create_policy(&policy("Tag:Desk", false, false))
        .await
        .unwrap();
    let alice = api.user("sip:alice@example.com", "user", true).await;
    let token = api.token("sip:alice@example.com").await;
    let me = || async {
        let r = api.get("/api/v1/me", Some(&token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["callViaWork"]["policy"].clone()
    };

    let p = me().await;
    assert_eq!(p["identity"], "Global");
    assert_eq!(p["allowInternationalCallback"], false);
    assert_eq!(p["allowPremiumCallback"], false);

    let alice = api
        .store
        .update_user(&UserRow {
            site: Some("London".into()),
            ..alice
        })
        .await
        .unwrap();
    let p = me().await;
    assert_eq!(p["identity"], "Site:London");
    assert_eq!(p["allowInternationalCallback"], true);
    assert_eq!(p["allowPremiumCallback"], true);

    api.store
        .set_policy_grant(alice.id, Some("Tag:Desk"))
        .await
        .unwrap();
    let p = me().await;
    assert_eq!(p["identity"], "Tag:Desk");
    assert_eq!(
        p["allowInternationalCallback"], false,
        "not merged with the site's"
    );
    assert_eq!(p["allowPremiumCallback"], false);
}

async fn wrong_password_and_unknown_user_get_identical_401s(store_url: &str) {
    let api = api(store_url).await;
    api.user("sip:alice@example.com", "user", true).await;
    let wrong = api
        .sign_in("sip:alice@example.com", "not-the-password")
        .await;
    let unknown = api.sign_in("sip:nobody@example.com", PASSWORD).await;
    let unknown_email = api.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    for other in [&unknown, &unknown_email] {
        assert_eq!(other.status, wrong.status);
        assert_eq!(other.text, wrong.text);
    }
    assert_eq!(error_of(&wrong).0, "InvalidCredentials");
}

async fn repeated_failures_give_429_with_retry_after_then_lock_out(store_url: &str) {
    let api = api_with(
        store_url,
        SessionSettings {
            lockout: LockoutPolicy {
                max_failures: 3,
                window_secs: 300,
                lock_secs: 900,
            },
            ..SessionSettings::default()
        },
    )
    .await;
    api.user("sip:alice@example.com", "user", true).await;
    for _ in 0..2 {
        let r = api.sign_in("sip:alice@example.com", "wrong-password").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = api.sign_in("sip:alice@example.com", "wrong-password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let retry: u64 = r.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    assert_eq!(error_of(&r).0, "TooManyAttempts");
    // Locked: even the right password is refused for now.
    let r = api.sign_in("sip:alice@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key(header::RETRY_AFTER));
    // Unknown names lock the same way (nothing to learn from the lockout).
    for _ in 0..2 {
        api.sign_in("sip:nobody@example.com", "x").await;
    }
    let r = api.sign_in("sip:nobody@example.com", "x").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_revoked_token_is_refused(store_url: &str) {
    let api = api(store_url).await;
    api.user("sip:alice@example.com", "user", true).await;
    let token = api.token("sip:alice@example.com").await;
    let req = Request::delete("/api/v1/auth/token")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.status, StatusCode::NO_CONTENT);
    let r = api.get("/api/v1/me", Some(&token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&r).0, "Unauthenticated");
    assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
    let req = Request::delete("/api/v1/auth/token")
        .body(Body::empty())
        .unwrap();
    assert_eq!(api.send(req).await.status, StatusCode::UNAUTHORIZED);
}

async fn expired_missing_and_garbage_tokens_are_refused(store_url: &str) {
    let api = api(store_url).await;
    let alice = api.user("sip:alice@example.com", "user", true).await;
    let token = "0".repeat(64);
    api.store
        .insert_token(&TokenRow {
            token_hash: hash_token(&token),
            user_id: alice.id,
            created_at: 1_000,
            expires_at: 2_000,
            revoked: false,
        })
        .await
        .unwrap();
    for t in [Some(token.as_str()), None, Some("garbage")] {
        let r = api.get("/api/v1/me", t).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{t:?}");
        assert_eq!(error_of(&r).0, "Unauthenticated");
    }
}

async fn bad_bodies_get_400_naming_the_field(store_url: &str) {
    let api = api(store_url).await;
    let path = "/api/v1/auth/token";
    let r = api
        .post_raw(path, r#"{"username": "sip:a@example.com", "pass"#)
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&r), ("MalformedJson".into(), None));
    for (body, field) in [
        (
            r#"{"username": "a", "password": "b", "colour": "red"}"#,
            "colour",
        ),
        (r#"{"username": "a", "password": 12345678}"#, "password"),
        (r#"{"username": ["a"], "password": "b"}"#, "username"),
        (r#"{"username": "a"}"#, "password"),
    ] {
        let r = api.post_raw(path, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            error_of(&r),
            ("ParameterValidationFailure".into(), Some(field.into())),
            "{body}: {}",
            r.text
        );
    }
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .unwrap();
    assert_eq!(
        api.send(req).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let r = api.get("/api/v1/nothing", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&r).0, "NotFound");
}

async fn disabled_users_cannot_sign_in_or_use_old_tokens(store_url: &str) {
    let api = api(store_url).await;
    api.user("sip:bob@example.com", "user", false).await;
    let r = api.sign_in("sip:bob@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(error_of(&r).0, "AccountDisabled");
    // A wrong password tells nothing about the account.
    let r = api.sign_in("sip:bob@example.com", "wrong-password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let alice = api.user("sip:alice@example.com", "user", true).await;
    let token = api.token("sip:alice@example.com").await;
    api.store
        .update_user(&UserRow {
            enabled: false,
            ..alice
        })
        .await
        .unwrap();
    let r = api.get("/api/v1/me", Some(&token)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

async fn the_admin_extractor_refuses_users_with_403(store_url: &str) {
    let api = api(store_url).await;
    api.user("sip:alice@example.com", "user", true).await;
    api.user("sip:root@example.com", "admin", true).await;
    let user = api.token("sip:alice@example.com").await;
    let admin = api.token("sip:root@example.com").await;
    assert_eq!(
        api.get("/probe/admin", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = api.get("/probe/admin", Some(&user)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(error_of(&r).0, "Forbidden");
    let r = api.get("/probe/admin", Some(&admin)).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "admin"));
}

/// The real binary, its store given by `VIAWORK_DATABASE` (which overrides the default).
/// It blocks on sockets and child output, so it runs off the runtime's thread.
async fn the_real_server_answers_healthz_over_tcp(store_url: &str) {
    let store_url = store_url.to_owned();
    tokio::task::spawn_blocking(move || real_server_answers_healthz_over_tcp(&store_url))
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
}

fn real_server_answers_healthz_over_tcp(store_url: &str) {
    let server = common::Server::start_with(&[("VIAWORK_DATABASE", store_url)]);
    let mut conn = std::net::TcpStream::connect(server.http).expect("connect");
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.http
    )
    .unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).expect("read");
    assert!(resp.starts_with("HTTP/1.1 200 "), "{resp}");
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let health: Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["store"]["reachable"], true);
    let listeners = health["sip"]["listeners"].as_array().unwrap();
    assert!(
        listeners.contains(&json!(format!("udp:{}", server.udp))),
        "{health}"
    );
}
