//! The canonical text of a request body: keys sorted, nulls dropped, and
//! its digest. The ledger keeps the digest beside each event's id (the
//! text beside each charge's and grant's), so that a replay of the same
//! body is told from a conflicting one. Used by the API and by the demo's
//! and the benchmark's seeding.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The bytes of [`digest`].
pub const DIGEST_BYTES: usize = 16;

/// SHA-256 of a canonical text, truncated to 128 bits: two bodies with
/// the same JSON values have the same digest, and two that differ collide
/// with a chance of one in 2^64 even among 2^32 events of one workspace.
pub fn digest(canonical: &str) -> Vec<u8> {
    Sha256::digest(canonical.as_bytes())[..DIGEST_BYTES].to_vec()
}

/// The value as canonical text: keys sorted, nulls dropped, so that two
/// bodies with the same JSON values compare equal.
pub fn canonical(v: &Value) -> String {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut sorted: Vec<(&String, &Value)> =
                    m.iter().filter(|(_, v)| !v.is_null()).collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                let mut out = Map::new();
                for (k, v) in sorted {
                    out.insert(k.clone(), strip(v));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String((*k).clone()).to_string());
                    out.push(':');
                    if let Some(v) = m.get(*k) {
                        write(v, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&strip(v), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_digest_is_sha256_cut_to_128_bits() {
        // `printf '{"a":1}' | sha256sum`
        let d = digest(r#"{"a":1}"#);
        assert_eq!(d.len(), DIGEST_BYTES);
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "015abd7f5cc57a2dd94b7590f04ad808");
        assert_ne!(digest(r#"{"a":2}"#), d);
    }

    #[test]
    fn canonical_ignores_order_and_nulls() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let b = json!({"a": {"y": [1, 2]}, "b": 1});
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&a),
            canonical(&json!({"b": 2, "a": {"y": [1, 2]}}))
        );
    }
}
