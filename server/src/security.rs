//! Response headers: framing only for the embed routes and only by the
//! platform's origins, a content security policy that allows only our own
//! scripts, and the usual hardening.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

pub use app::security::{frame_ancestors, is_embed_route, page_policy};

/// Whether a bundle file's name carries its content hash
/// (`credits.0123456789abcdef.wasm`).
fn is_hashed_name(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or("");
    name.split('.')
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sets the security headers on every response (a page may have set its
/// own policy, with its nonce, already).
pub async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let embed = is_embed_route(req.uri().path());
    let path = req.uri().path();
    let static_asset = path.starts_with("/pkg/");
    let asset_route = static_asset || path.starts_with("/assets/");
    let hashed = static_asset && is_hashed_name(path);
    let https = state.is_https(req.headers(), req.extensions());
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let origins = &state.contact.platform_origins;
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&page_policy(None, origins, embed)) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    if !embed || origins.is_empty() {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    let status = res.status();
    let stored_ok = status.is_success() || status == axum::http::StatusCode::NOT_MODIFIED;
    let h = res.headers_mut();
    if asset_route && !stored_ok {
        // An error is never kept: a missing hashed name (a deploy under
        // way, a typo) must not stay cached for a year, by a browser or a CDN.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    } else if !h.contains_key(header::CACHE_CONTROL) {
        if hashed {
            // The name changes with the content: keep it for a year.
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
        } else if static_asset {
            // Not content-hashed yet: cache, but ask whether it changed
            // (a 304 from its Last-Modified) before each use.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        } else {
            // Pages, server functions, the API and exports depend on who
            // asks: never stored by a browser or a shared cache.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.append(
                header::VARY,
                HeaderValue::from_static("Cookie, X-Credits-Session"),
            );
        }
    }
    if asset_route && stored_ok {
        // The same name answers brotli, gzip or plain bytes: caches must
        // keep one copy per encoding.
        let varies = h.get_all(header::VARY).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.to_ascii_lowercase().contains("accept-encoding"))
        });
        if !varies {
            h.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        }
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    res
}
