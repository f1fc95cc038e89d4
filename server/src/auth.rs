//! Sign-in: the platform's signed hand-off (JWT HS256) and dashboard
//! sessions. Tokens and sessions expire on the real clock, even when
//! `CREDITS_NOW` pins the ledger's "now".

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Audience the platform signs hand-off tokens for.
pub const AUDIENCE: &str = "credits";
/// The furthest ahead a hand-off token may expire.
pub const MAX_TOKEN_LIFETIME_SECS: i64 = 600;
/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: i64 = 30;
/// Standalone cookie over plain HTTP (development on loopback).
pub const SESSION_COOKIE: &str = "credits_session";
/// Standalone cookie over HTTPS: the `__Host-` prefix makes the browser
/// keep it only when it is `Secure`, for this host alone (no `Domain`) and
/// `Path=/`, so a sibling subdomain can neither set nor shadow it. Over
/// HTTPS only this name is read.
pub const HOST_SESSION_COOKIE: &str = "__Host-credits_session";
/// The embedded session's own (partitioned, SameSite=None) cookie over
/// plain HTTP: read only for page loads under `/embed/`, never for server
/// functions, which embedded pages call with the session header.
pub const EMBED_SESSION_COOKIE: &str = "credits_embed_session";
/// The same over HTTPS, `__Host-` prefixed (so `Path=/`; still read only
/// for page loads under `/embed/`).
pub const HOST_EMBED_SESSION_COOKIE: &str = "__Host-credits_embed_session";

/// The standalone and embedded cookies' names for a request over HTTPS
/// or not.
pub fn cookie_names(https: bool) -> (&'static str, &'static str) {
    if https {
        (HOST_SESSION_COOKIE, HOST_EMBED_SESSION_COOKIE)
    } else {
        (SESSION_COOKIE, EMBED_SESSION_COOKIE)
    }
}
// The header embedded pages send their session in: one definition, shared
// with the browser code.
pub use app::session_client::SESSION_HEADER;

/// The claims of a hand-off token.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct HandoffClaims {
    pub sub: String,
    pub ws: String,
    pub exp: i64,
    /// The token's unique id: a token opens one session, once.
    #[serde(default)]
    pub jti: String,
    pub theme: Option<String>,
    pub locale: Option<String>,
}

/// Why a token was refused (all answer `401`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("sign-in is not configured (CREDITS_EMBED_SECRET)")]
    NotConfigured,
    #[error("the token is malformed or its signature is wrong")]
    Invalid,
    #[error("the token is for another audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token expires too far ahead (at most 10 minutes)")]
    TooLong,
}

/// Verifies a hand-off token at the real time `now`.
pub fn verify_handoff(
    secret: Option<&str>,
    token: &str,
    now: DateTime<Utc>,
) -> Result<HandoffClaims, TokenError> {
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or(TokenError::NotConfigured)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    // Expiry is checked below against `now`, for testable, explicit rules.
    validation.validate_exp = false;
    let data = decode::<HandoffClaims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidAudience => TokenError::WrongAudience,
        _ => TokenError::Invalid,
    })?;
    let claims = data.claims;
    let now = now.timestamp();
    if claims.exp + LEEWAY_SECS < now {
        return Err(TokenError::Expired);
    }
    if claims.exp > now + MAX_TOKEN_LIFETIME_SECS + LEEWAY_SECS {
        return Err(TokenError::TooLong);
    }
    if !app::query::is_valid_id(&claims.sub) || !app::query::is_valid_id(&claims.ws) {
        return Err(TokenError::Invalid);
    }
    let jti_ok =
        (8..=128).contains(&claims.jti.len()) && claims.jti.bytes().all(|b| b.is_ascii_graphic());
    if !jti_ok {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

/// A fresh session token (256 random bits, URL-safe).
pub fn new_session_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a session token.
pub fn token_hash(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// The SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The session token a request carries: the header (embedded pages) first,
/// then the standalone cookie of its scheme ([`cookie_names`]).
pub fn session_token(headers: &axum::http::HeaderMap, https: bool) -> Option<String> {
    if let Some(v) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string()).filter(|t| !t.is_empty());
    }
    cookie(headers, cookie_names(https).0)
}

/// The session token of a request to `path`: as [`session_token`], and the
/// embedded cookie for page loads under `/embed/` (a reload, the export).
pub fn session_token_for(
    headers: &axum::http::HeaderMap,
    path: &str,
    https: bool,
) -> Option<String> {
    session_token(headers, https).or_else(|| {
        path.starts_with("/embed/")
            .then(|| cookie(headers, cookie_names(https).1))
            .flatten()
    })
}

fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde_json::json;

    fn sign(claims: serde_json::Value, secret: &str) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    #[test]
    fn every_fault_is_refused() {
        let now = Utc::now();
        let t = now.timestamp();
        let ok = json!({"sub": "u1", "ws": "acme", "aud": "credits", "exp": t + 300, "jti": "0123456789ab"});
        let no_jti = json!({"sub": "u1", "ws": "acme", "aud": "credits", "exp": t + 300});
        assert_eq!(
            verify_handoff(Some("s3cret"), &sign(no_jti, "s3cret"), now),
            Err(TokenError::Invalid)
        );
        assert!(verify_handoff(Some("s3cret"), &sign(ok.clone(), "s3cret"), now).is_ok());
        assert_eq!(
            verify_handoff(Some("s3cret"), &sign(ok.clone(), "other"), now),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            verify_handoff(None, &sign(ok, "s3cret"), now),
            Err(TokenError::NotConfigured)
        );
        let aud = json!({"sub": "u1", "ws": "acme", "aud": "billing", "exp": t + 300, "jti": "0123456789ab"});
        assert_eq!(
            verify_handoff(Some("s"), &sign(aud, "s"), now),
            Err(TokenError::WrongAudience)
        );
        let old = json!({"sub": "u1", "ws": "acme", "aud": "credits", "exp": t - 120, "jti": "0123456789ab"});
        assert_eq!(
            verify_handoff(Some("s"), &sign(old, "s"), now),
            Err(TokenError::Expired)
        );
        let long = json!({"sub": "u1", "ws": "acme", "aud": "credits", "exp": t + 3600, "jti": "0123456789ab"});
        assert_eq!(
            verify_handoff(Some("s"), &sign(long, "s"), now),
            Err(TokenError::TooLong)
        );
        assert_eq!(
            verify_handoff(Some("s"), "not.a.jwt", now),
            Err(TokenError::Invalid)
        );
        let none = json!({"sub": "u1", "ws": "acme", "aud": "credits"});
        assert_eq!(
            verify_handoff(Some("s"), &sign(none, "s"), now),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn tokens_are_read_from_header_then_cookie() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "cookie",
            "a=1; credits_session=abc; b=2"
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(session_token(&h, false).as_deref(), Some("abc"));
        h.insert(
            SESSION_HEADER,
            "xyz"
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(session_token(&h, false).as_deref(), Some("xyz"));
        assert_eq!(token_hash("abc").len(), 64);
        assert_ne!(new_session_token(), new_session_token());
        // The embedded cookie opens embedded pages only, never a server function.
        let mut e = axum::http::HeaderMap::new();
        e.insert(
            "cookie",
            "credits_embed_session=emb"
                .parse()
                .unwrap_or(axum::http::HeaderValue::from_static("")),
        );
        assert_eq!(
            session_token_for(&e, "/embed/usage/plan", false).as_deref(),
            Some("emb")
        );
        assert_eq!(session_token_for(&e, "/rpc/overview", false), None);
        assert_eq!(session_token_for(&e, "/usage/plan", false), None);
    }
}
