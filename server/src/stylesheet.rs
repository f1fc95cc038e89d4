//! The stylesheet, compiled into the binary so pages are styled even where
//! the WASM bundle was not built. Pages name it by its content hash
//! (`/assets/credits.<hash>.css`), kept by browsers for a year like the
//! bundle's hashed files; the plain `/assets/credits.css` stays for
//! anything that names it without the hash, revalidated by its `ETag`.
//! Both are compressed on the way out by the server's compression layer.

use std::sync::LazyLock;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const STYLESHEET: &str = include_str!("../../style/main.css");

/// The first 16 hex digits of the stylesheet's SHA-256.
static HASH: LazyLock<String> = LazyLock::new(|| {
    Sha256::digest(STYLESHEET.as_bytes())[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
});

/// The address the pages use: it changes whenever the stylesheet does.
pub static HREF: LazyLock<String> = LazyLock::new(|| format!("/assets/credits.{}.css", *HASH));

/// The address without the hash.
pub const PLAIN_HREF: &str = "/assets/credits.css";

/// The stylesheet under its hashed name: cached for a year, never asked again.
pub async fn hashed() -> Response {
    answer("public, max-age=31536000, immutable")
}

/// The stylesheet under its plain name: cached, but revalidated before each
/// use (a `304` when the browser's copy is the current one).
pub async fn plain(headers: HeaderMap) -> Response {
    let etag = format!("\"{}\"", *HASH);
    let current = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    if current {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag),
                (header::CACHE_CONTROL, "no-cache".into()),
            ],
        )
            .into_response();
    }
    let mut res = answer("no-cache");
    if let Ok(v) = etag.parse() {
        res.headers_mut().insert(header::ETAG, v);
    }
    res
}

fn answer(cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        STYLESHEET,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashed_name_follows_the_content() {
        assert_eq!(HASH.len(), 16);
        assert!(HASH.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(HREF.starts_with("/assets/credits.") && HREF.ends_with(".css"));
        assert_ne!(HREF.as_str(), PLAIN_HREF);
    }
}
