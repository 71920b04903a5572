//! The browser client's static files (`crates/viawork/web/`), compiled into the binary with
//! rust-embed and served at `/`, so a fresh `viawork serve` is a working client with no
//! separate web server, build step or download (`docs/web-client.md`).
//!
//! Each embedded file gets its own route (`/index.html`, `/js/app.js`, ...; `/`, `/call`
//! and a meeting's join URL `/meet/{id}` are `index.html`), so every other path still gets
//! the API's JSON 404. The
//! answers carry:
//!
//! - the content type from the file's extension (a test keeps every embedded file typed);
//! - `Cache-Control: no-cache` with a strong `ETag` (the file's SHA-256), answering
//!   `If-None-Match` with 304: file names carry no hash, so a browser must revalidate, and a
//!   new server version is seen at the next load without stale mixes of modules;
//! - a strict `Content-Security-Policy` ([`CSP`]): scripts, styles, images and connections
//!   from this origin only, no inline script or style, no frames, no plugins — an injected
//!   message or name cannot run code even if the client had an escaping bug;
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: no-referrer`,
//!   `X-Frame-Options: DENY`.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use super::AppState;

/// The client's files. `debug-embed` embeds them in debug builds too, so tests serve
/// exactly what a release binary serves.
#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// The Content-Security-Policy of every client file. `connect-src 'self'` covers `fetch`
/// and the event stream's WebSocket (`ws:`/`wss:` to the same host, CSP Level 3);
/// `media-src blob:` lets a meeting recording play from the Blob the client fetched with
/// its bearer token (an `<audio>` cannot send the token itself).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; media-src blob:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// The routes of this file: one per embedded file, and `/`, `/call` and `/meet/{id}` for
/// `index.html` (`/call?to=NUMBER` is where phone links lead: the client asks to confirm,
/// then calls; `/meet/{id}` is a meeting's join URL: the client offers Join after sign-in).
pub(super) fn router() -> Router<AppState> {
    let index = || get(|headers: HeaderMap| async move { serve("index.html", &headers) });
    let mut router = Router::new()
        .route("/", index())
        .route("/call", index())
        .route("/meet/{id}", index());
    for path in Assets::iter() {
        let path = path.into_owned();
        let route = format!("/{path}");
        router = router.route(
            &route,
            get(move |headers: HeaderMap| async move { serve(&path, &headers) }),
        );
    }
    router
}

/// The content type for a file name, by its extension; `None` for one the client does not
/// use (a test keeps every embedded file known).
fn content_type(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// The quoted strong entity tag of a file: its SHA-256 in hex.
fn etag(hash: &[u8; 32]) -> String {
    let mut s = String::with_capacity(66);
    s.push('"');
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s.push('"');
    s
}

/// Whether an `If-None-Match` value names `tag` (or is `*`). Weak tags compare by their
/// opaque part, as RFC 9110 §13.1.2 asks for this header.
fn none_match(value: &str, tag: &str) -> bool {
    value
        .split(',')
        .map(|t| t.trim())
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == tag)
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        // Only embedded paths are routed; this is unreachable short of a build mix-up.
        return super::ApiError::not_found("no such resource").into_response();
    };
    let tag = etag(&file.metadata.sha256_hash());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| none_match(v, &tag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let h = resp.headers_mut();
    let ctype = content_type(path).unwrap_or("application/octet-stream");
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    }
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_known_content_type() {
        let files: Vec<_> = Assets::iter().collect();
        assert!(files.iter().any(|f| f == "index.html"), "{files:?}");
        for f in &files {
            assert!(content_type(f).is_some(), "no content type for {f}");
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), Some("text/html; charset=utf-8"));
        assert_eq!(
            content_type("js/app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(content_type("APP.CSS"), Some("text/css; charset=utf-8"));
        assert_eq!(content_type("icon.svg"), Some("image/svg+xml"));
        assert_eq!(content_type("README"), None);
        assert_eq!(content_type("x.exe"), None);
    }

    #[test]
    fn if_none_match_compares_tags_weak_or_strong_and_star() {
        let tag = "\"abc\"";
        assert!(none_match("\"abc\"", tag));
        assert!(none_match("W/\"abc\"", tag));
        assert!(none_match("\"x\", \"abc\"", tag));
        assert!(none_match("*", tag));
        assert!(!none_match("\"abd\"", tag));
        assert!(!none_match("", tag));
    }

    #[test]
    fn the_etag_is_the_quoted_hex_hash() {
        let mut h = [0u8; 32];
        h[0] = 0xab;
        h[31] = 0x01;
        let t = etag(&h);
        assert_eq!(t.len(), 66);
        assert!(t.starts_with("\"ab00") && t.ends_with("01\""), "{t}");
    }
}
