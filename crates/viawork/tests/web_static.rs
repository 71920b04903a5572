//! The browser client's files as the router serves them (in-process, over a SQLite store):
//! `/` is the client, each file has its content type, the strict CSP and a validator, a
//! matching `If-None-Match` gets 304, every module the client imports is served, and paths
//! that are not files still get the API's JSON 404.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use viawork::api::{self, AppState, SessionSettings};

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("viawork.db").display());
    let store = viawork::store::open(&url).await.expect("open store");
    let state = AppState::new(store, SessionSettings::default(), vec![]);
    (api::router(state), dir)
}

async fn send(router: &axum::Router, method: &str, path: &str, etag: Option<&str>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(tag) = etag {
        req = req.header(header::IF_NONE_MATCH, tag);
    }
    let resp = router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

#[tokio::test]
async fn the_root_is_the_client_with_a_strict_policy() {
    let (router, _dir) = router().await;
    let r = send(&router, "GET", "/", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert!(r
        .text
        .contains("<script type=\"module\" src=\"/js/main.js\">"));
    let csp = r.header(header::CONTENT_SECURITY_POLICY);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "media-src blob:",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header(header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert_eq!(r.header(header::REFERRER_POLICY), "no-referrer");
    assert_eq!(r.header(header::X_FRAME_OPTIONS), "DENY");
    assert_eq!(r.header(header::CACHE_CONTROL), "no-cache");
    // No inline script or style for the policy to forbid.
    assert!(!r.text.contains("<script>") && !r.text.contains("style="));
    // The same file as /index.html, /call (where phone links lead) and a meeting's join
    // URL, with the same validator and policy.
    for path in [
        "/index.html",
        "/call?to=tel%3A%2B14255550199",
        "/meet/k3x9Qm2aLp",
    ] {
        let same = send(&router, "GET", path, None).await;
        assert_eq!(same.status, StatusCode::OK, "{path}");
        assert_eq!(same.text, r.text, "{path}");
        assert_eq!(same.header(header::ETAG), r.header(header::ETAG), "{path}");
        assert_eq!(same.header(header::CONTENT_SECURITY_POLICY), csp, "{path}");
    }
}

#[tokio::test]
async fn files_have_their_types_and_revalidate_with_304() {
    let (router, _dir) = router().await;
    for (path, ctype) in [
        ("/js/main.js", "text/javascript; charset=utf-8"),
        ("/app.css", "text/css; charset=utf-8"),
        ("/favicon.svg", "image/svg+xml"),
    ] {
        let r = send(&router, "GET", path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.header(header::CONTENT_TYPE), ctype, "{path}");
        let tag = r.header(header::ETAG).to_owned();
        assert!(tag.starts_with('"') && tag.len() == 66, "{path}: {tag}");

        let again = send(&router, "GET", path, Some(&tag)).await;
        assert_eq!(again.status, StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.text.is_empty());
        assert_eq!(again.header(header::ETAG), tag);
        let other = send(&router, "GET", path, Some("\"0000\"")).await;
        assert_eq!(other.status, StatusCode::OK, "{path}");
        let head = send(&router, "HEAD", path, None).await;
        assert_eq!(head.status, StatusCode::OK, "{path}");
        assert!(head.text.is_empty(), "{path}");
    }
}

#[tokio::test]
async fn every_module_the_client_imports_is_served() {
    let (router, _dir) = router().await;
    // Walk the imports from main.js: a renamed or missing module fails here, not in a
    // browser.
    let mut todo = vec!["/js/main.js".to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let r = send(&router, "GET", &path, None).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "{path} is imported but not served"
        );
        let dir = &path[..path.rfind('/').unwrap() + 1];
        for line in r.text.lines() {
            let Some(from) = line.split(" from '").nth(1) else {
                continue;
            };
            let Some(rel) = from.split('\'').next() else {
                continue;
            };
            if let Some(name) = rel.strip_prefix("./") {
                todo.push(format!("{dir}{name}"));
            }
        }
    }
    assert!(seen.len() >= 5, "{seen:?}");
}

#[tokio::test]
async fn other_paths_still_get_the_json_404() {
    let (router, _dir) = router().await;
    for path in [
        "/nope",
        "/js/nope.js",
        "/index.htm",
        "/../Cargo.toml",
        "/js/",
        "/meet",
        "/meet/abc/def",
    ] {
        let r = send(&router, "GET", path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert!(r.text.contains("\"error\""), "{path}: {}", r.text);
    }
}
