//! The stylesheet, compiled into the binary so pages are styled even where
//! the WASM bundle was not built. Pages name it by its content hash
//! (`/assets/credits.<hash>.css`), kept by browsers for a year like the
//! bundle's hashed files. The plain `/assets/credits.css`, and any other
//! hash of it (a page of an older release, during a rolling deploy of
//! several servers), answer the current stylesheet revalidated by its
//! `ETag`, so no page is left unstyled. All are compressed on the way out
//! by the server's compression layer.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

const STYLESHEET: &str = include_str!("../../style/main.css");

/// The first 16 hex digits of the stylesheet's SHA-256.
static HASH: LazyLock<String> =
    LazyLock::new(|| crate::auth::sha256_hex(STYLESHEET.as_bytes())[..16].to_string());

/// The address the pages use: it changes whenever the stylesheet does.
pub static HREF: LazyLock<String> = LazyLock::new(|| format!("/assets/credits.{}.css", *HASH));

/// The route of every name of the stylesheet.
pub const ROUTE: &str = "/assets/{file}";

/// `/assets/{file}`: the stylesheet under its current hashed name, cached
/// for a year; under its plain name or another hash, the current one,
/// revalidated before each use; anything else is not found.
pub async fn serve(Path(file): Path<String>, headers: HeaderMap) -> Response {
    if Some(file.as_str()) == HREF.strip_prefix("/assets/") {
        return answer("public, max-age=31536000, immutable");
    }
    let other_hash = file
        .strip_prefix("credits.")
        .and_then(|f| f.strip_suffix(".css"))
        .is_some_and(|h| h.len() == 16 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if file == "credits.css" || other_hash {
        return revalidated(&headers);
    }
    StatusCode::NOT_FOUND.into_response()
}

/// The current stylesheet, cached but revalidated before each use (a `304`
/// when the browser's copy is the current one).
fn revalidated(headers: &HeaderMap) -> Response {
    let tag = format!("\"{}\"", *HASH);
    // Weak comparison, as for `If-None-Match`.
    let current = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag);
    // Weak: the compression layer sends it with each encoding of the bytes.
    let etag = [(header::ETAG, format!("W/{tag}"))];
    if current {
        return (
            StatusCode::NOT_MODIFIED,
            etag,
            [(header::CACHE_CONTROL, "no-cache")],
        )
            .into_response();
    }
    (etag, answer("no-cache")).into_response()
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
        assert_ne!(HREF.as_str(), "/assets/credits.css");
    }
}
