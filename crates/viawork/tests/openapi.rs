//! The OpenAPI document (`GET /api/v1/openapi.json`) and its reference page
//! (`GET /api/v1/docs`), in-process over a SQLite store.
//!
//! Coverage both ways: the routes are read from the `.route("...", get(..).post(..))`
//! calls in `src/api/` (the only place routes are declared; axum cannot list them), so a
//! route added without a `#[utoipa::path]` fails `every_api_route_is_documented`; and
//! every documented operation is sent to the router, so one it does not serve fails
//! `every_documented_operation_is_served`.

use std::collections::BTreeSet;
use std::path::Path;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use viawork::api::{self, AppState, SessionSettings};

/// Source files whose routes are not documented yet (none).
const PENDING_FILES: &[&str] = &[];

struct Reply {
    status: StatusCode,
    content_type: String,
    text: String,
}

async fn get(path: &str) -> Reply {
    send(&router().await.0, "GET", path).await
}

/// The API's router over a fresh SQLite store (kept alive by the returned directory).
async fn router() -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("viawork.db").display());
    let store = viawork::store::open(&url).await.expect("open store");
    let state = AppState::new(store, SessionSettings::default(), vec![]);
    (api::router(state), dir)
}

async fn send(router: &axum::Router, method: &str, path: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap();
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        content_type,
        text: String::from_utf8(bytes.to_vec()).expect("utf-8"),
    }
}

async fn document() -> Value {
    let r = get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    serde_json::from_str(&r.text).unwrap_or_else(|e| panic!("{e}: {}", r.text))
}

/// Every `(METHOD, path)` the API's routers declare under `/api/v1`, read from the
/// `.route(` calls in `src/api/` (skipping `PENDING_FILES`).
fn declared_routes() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = Vec::new();
    collect_rs(&root, &mut files);
    let mut routes = BTreeSet::new();
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if PENDING_FILES
            .iter()
            .any(|p| rel == *p || rel.starts_with(&format!("{p}/")))
        {
            continue;
        }
        let src = std::fs::read_to_string(&file).expect("read source");
        routes.extend(routes_in(&src));
    }
    routes
}

fn collect_rs(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The routes of one source file: each `.route(` call up to its closing parenthesis, its
/// first string literal as the path and every `get(`/`post(`/`put(`/`patch(`/`delete(`
/// inside it as a method.
fn routes_in(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find(".route(") {
        let call = &rest[at + ".route(".len()..];
        let mut depth = 1;
        let mut end = call.len();
        for (i, c) in call.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let args = &call[..end];
        rest = &call[end..];
        let Some(path) = args.split('"').nth(1) else {
            continue;
        };
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for method in ["get", "post", "put", "patch", "delete"] {
            let needle = format!("{method}(");
            let found = args.match_indices(&needle).any(|(i, _)| {
                // A whole word: `get(`, `.get(`, `routing::get(`, not `forget(`.
                args[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            });
            if found {
                out.push((method.to_uppercase(), path.to_owned()));
            }
        }
    }
    out
}

/// Every `(METHOD, path)` the document describes.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_document_is_openapi_3() {
    let doc = document().await;
    let version = doc["openapi"].as_str().expect("openapi member");
    assert!(version.starts_with("3."), "openapi {version}");
    assert_eq!(doc["info"]["title"], "ViaWork API");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]
    );
    let error = &doc["components"]["schemas"]["ErrorResponse"];
    assert_eq!(
        error["properties"]["error"]["$ref"],
        "#/components/schemas/ErrorDetail"
    );
    let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"];
    for member in ["code", "message", "field"] {
        assert!(detail.get(member).is_some(), "ErrorDetail lacks {member}");
    }
}

#[test]
fn the_route_reader_finds_routes() {
    let routes = routes_in(
        r#"Router::new()
            .route("/api/v1/a", get(list).post(create))
            .route(
                "/api/v1/a/{id}",
                axum::routing::delete(remove).put(forget_it),
            )
            .route("/healthz", get(h))"#,
    );
    assert_eq!(
        routes,
        [
            ("GET".into(), "/api/v1/a".into()),
            ("POST".into(), "/api/v1/a".into()),
            ("PUT".into(), "/api/v1/a/{id}".into()),
            ("DELETE".into(), "/api/v1/a/{id}".into()),
        ]
    );
    let all = declared_routes();
    for known in [("POST", "/api/v1/auth/token"), ("GET", "/api/v1/me")] {
        assert!(
            all.contains(&(known.0.into(), known.1.into())),
            "{known:?} not read from the source: {all:?}"
        );
    }
}

#[tokio::test]
async fn every_api_route_is_documented() {
    let doc = document().await;
    let documented = documented(&doc);
    let declared = declared_routes();
    let missing: Vec<_> = declared.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "routes without an OpenAPI operation: {missing:?}"
    );
    // And nothing is described that no router serves (a typo in a `path = ...`).
    let mut all_declared = BTreeSet::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut files = Vec::new();
    collect_rs(&root, &mut files);
    for f in files {
        all_declared.extend(routes_in(&std::fs::read_to_string(f).expect("read")));
    }
    let phantom: Vec<_> = documented.difference(&all_declared).collect();
    assert!(phantom.is_empty(), "documented but not routed: {phantom:?}");
}

/// Every `$ref` string anywhere under `v`.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_schema_reference_resolves() {
    let doc = document().await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "only {} references", all.len());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(schemas.contains_key(name), "{r} is not a component");
    }
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    // Asked of the router itself, without a token: a served route answers anything but
    // 405 and the fallback's 404 (`no such resource`) — mostly 401.
    let doc = document().await;
    let (router, _dir) = router().await;
    let ops = documented(&doc);
    assert!(ops.len() > 50, "{} operations", ops.len());
    for (method, path) in ops {
        let concrete = path.replace('{', "x").replace('}', "");
        let r = send(&router, &method, &concrete).await;
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(r.status == StatusCode::NOT_FOUND && r.text.contains("no such resource")),
            "{method} {path} is not routed: {}",
            r.text
        );
    }
}

#[tokio::test]
async fn operation_ids_are_unique() {
    let doc = document().await;
    let mut seen = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(
                seen.insert(id.to_owned()),
                "operationId {id} repeats ({method} {path})"
            );
        }
    }
}

#[tokio::test]
async fn every_signed_in_operation_names_bearer_and_errors_share_one_schema() {
    let doc = document().await;
    let public = [
        ("post", "/api/v1/auth/token"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/docs"),
    ];
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if public.contains(&(method.as_str(), path.as_str())) {
                continue;
            }
            assert_eq!(
                op["security"][0]["bearer"],
                serde_json::json!([]),
                "{method} {path} does not name the bearer scheme"
            );
            for (status, resp) in op["responses"].as_object().expect("responses") {
                // The failures that are not error bodies: import reports of bad rows.
                let report = matches!(
                    path.as_str(),
                    "/api/v1/admin/users/import" | "/api/v1/admin/policies/import"
                ) && status == "422";
                if (status.starts_with('4') || status.starts_with('5')) && !report {
                    let schema = &resp["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(
                        schema, "#/components/schemas/ErrorResponse",
                        "{method} {path} {status}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_reference_page_is_html_that_reads_the_document() {
    let r = get("/api/v1/docs").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.text.contains("fetch(\"openapi.json\""), "{}", r.text);
    // Self-contained: no script or style from elsewhere.
    assert!(!r.text.contains("src=\"http"), "external script");
    assert!(!r.text.contains("href=\"http"), "external link");
}
