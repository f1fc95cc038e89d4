//! The canonical text of a request body: keys sorted, nulls dropped. The
//! ledger keeps it beside each id, so that a replay of the same body is
//! told from a conflicting one. Used by the API and by the demo's seeding.

use serde_json::{Map, Value};

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
