//! Sanitising HTML messages, with ammonia (a well-kept, html5ever-based allow-list
//! sanitiser: parsing HTML correctly is exactly what a hand-written filter gets wrong).
//!
//! Clients render `html` messages as HTML, so what one user sends must not run script or
//! restyle the page in another user's client: only formatting tags survive, links keep
//! `http`, `https`, `mailto`, `tel` and `sip` targets and get `rel="noopener noreferrer
//! nofollow"`, and everything else (script, style, event handlers, iframes, forms) is
//! removed with its content where it is code.

use std::collections::HashSet;
use std::sync::OnceLock;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.url_schemes(HashSet::from(["http", "https", "mailto", "tel", "sip"]))
            .link_rel(Some("noopener noreferrer nofollow"));
        b
    })
}

/// The safe subset of `html`.
pub fn sanitize(html: &str) -> String {
    sanitizer().clean(html).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_bad_links_are_removed_formatting_kept() {
        let out = sanitize(
            "<b>hi</b> <script>alert(1)</script><i onclick=\"x()\">there</i> \
             <a href=\"javascript:alert(1)\">bad</a> <a href=\"https://example.com\">ok</a>\
             <iframe src=\"https://evil\"></iframe><style>body{}</style>",
        );
        assert!(out.contains("<b>hi</b>"), "{out}");
        assert!(out.contains("<i>there</i>"), "{out}");
        assert!(!out.contains("script"), "{out}");
        assert!(!out.contains("onclick"), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(!out.contains("iframe"), "{out}");
        assert!(!out.contains("body{}"), "{out}");
        assert!(
            out.contains("href=\"https://example.com\"")
                && out.contains("rel=\"noopener noreferrer nofollow\""),
            "{out}"
        );
    }
}
