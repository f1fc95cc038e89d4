//! The platform's hand-off tokens (JWT HS256), as it signs them.

use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// `claims` signed with `secret`.
pub fn jwt(claims: Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

/// A hand-off's claims: `user` of workspace `ws`, valid for `ttl` seconds,
/// with a fresh `jti`.
pub fn claims(user: &str, ws: &str, ttl: i64) -> Value {
    json!({"sub": user, "ws": ws, "aud": "credits", "exp": Utc::now().timestamp() + ttl,
           "jti": credits_server::auth::new_session_token()})
}
