//! Reading request bodies field by field, collecting every error by path.

use serde_json::{Map, Value};

use super::error::FieldError;
use app::query::is_valid_id;

/// Collects field errors while reading a JSON body.
#[derive(Debug, Default)]
pub struct Checker {
    pub errors: Vec<FieldError>,
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Checker {
    /// Records an error.
    pub fn fail(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(path, message));
    }

    /// The value as an object, or an error at `path`.
    pub fn object<'a>(&mut self, v: &'a Value, path: &str) -> Option<&'a Map<String, Value>> {
        match v.as_object() {
            Some(m) => Some(m),
            None => {
                self.fail(
                    if path.is_empty() { "$" } else { path },
                    "must be an object",
                );
                None
            }
        }
    }

    fn present<'a>(
        &mut self,
        m: &'a Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Value> {
        match m.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.fail(join(prefix, key), "is required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A string of 1..=max characters (trimmed of nothing).
    pub fn text(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
        max: usize,
    ) -> Option<String> {
        let v = self.present(m, prefix, key, required)?;
        match v.as_str() {
            Some(s) if s.trim().is_empty() => {
                self.fail(join(prefix, key), "must not be empty");
                None
            }
            Some(s) if s.chars().count() > max => {
                self.fail(
                    join(prefix, key),
                    format!("must be at most {max} characters"),
                );
                None
            }
            Some(s) => Some(s.to_string()),
            None => {
                self.fail(join(prefix, key), "must be a string");
                None
            }
        }
    }

    /// A platform id.
    pub fn id(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        let v = self.present(m, prefix, key, required)?;
        match v.as_str() {
            Some(s) if is_valid_id(s) => Some(s.to_string()),
            _ => {
                self.fail(
                    join(prefix, key),
                    "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
                );
                None
            }
        }
    }

    /// One of `allowed`.
    pub fn choice(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<String> {
        let v = self.present(m, prefix, key, required)?;
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s.to_string()),
            _ => {
                self.fail(
                    join(prefix, key),
                    format!("must be one of: {}", allowed.join(", ")),
                );
                None
            }
        }
    }

    /// An integer of at least `min` (and at most 10^12, far past any plan).
    pub fn integer(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
        min: i64,
    ) -> Option<i64> {
        let v = self.present(m, prefix, key, required)?;
        let what = if min > 0 {
            "must be a positive integer"
        } else {
            "must be a non-negative integer"
        };
        match v.as_i64() {
            Some(n) if n >= min && n <= 1_000_000_000_000 => Some(n),
            _ => {
                self.fail(join(prefix, key), what);
                None
            }
        }
    }

    /// An email address (a plain shape check).
    pub fn email(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<String> {
        let s = self.text(m, prefix, key, required, 254)?;
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
            }
            None => false,
        };
        if ok {
            Some(s)
        } else {
            self.fail(join(prefix, key), "must be an email address");
            None
        }
    }

    /// A nested object.
    pub fn nested<'a>(
        &mut self,
        m: &'a Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        let v = self.present(m, prefix, key, required)?;
        self.object(v, &join(prefix, key))
    }

    /// A price object: `amount_cents` ≥ 0 and an ISO 4217 `currency`.
    pub fn price(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
        required: bool,
    ) -> Option<app::model::Price> {
        let p = self.nested(m, prefix, key, required)?;
        let path = join(prefix, key);
        let amount = self.integer(p, &path, "amount_cents", true, 0);
        let currency = self.text(p, &path, "currency", true, 3);
        let currency = currency.and_then(|c| {
            if iso_currency::Currency::from_code(&c).is_some() {
                Some(c)
            } else {
                self.fail(
                    join(&path, "currency"),
                    "must be an ISO 4217 currency code, such as EUR",
                );
                None
            }
        });
        Some(app::model::Price {
            amount_cents: amount?,
            currency: currency?,
        })
    }

    /// The workspace's `alerts` settings (API.md, "Alerts"), as a patch:
    /// a field left out keeps the stored value. `thresholds` are 0 to 5
    /// distinct integers from 1 to 100; `runout_forecast` a boolean.
    pub fn alerts(
        &mut self,
        m: &Map<String, Value>,
        prefix: &str,
        key: &str,
    ) -> Option<crate::store::AlertsPatch> {
        let a = self.nested(m, prefix, key, false)?;
        let path = join(prefix, key);
        let mut patch = crate::store::AlertsPatch::default();
        let list_path = join(&path, "thresholds");
        match a.get("thresholds") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                let mut values = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, v) in items.iter().enumerate() {
                    match v.as_i64().filter(|n| (1..=100).contains(n)) {
                        Some(n) if !values.contains(&n) => values.push(n),
                        Some(_) => {
                            self.fail(format!("{list_path}[{i}]"), "repeats another threshold");
                            ok = false;
                        }
                        None => {
                            self.fail(
                                format!("{list_path}[{i}]"),
                                "must be an integer from 1 to 100",
                            );
                            ok = false;
                        }
                    }
                }
                if items.len() > app::domain::alerts::MAX_THRESHOLDS {
                    self.fail(list_path.clone(), "must hold at most 5 thresholds");
                    ok = false;
                }
                if ok {
                    match app::domain::alerts::AlertSettings::new(&values, true) {
                        Ok(s) => patch.thresholds = Some(s.thresholds),
                        Err(e) => self.fail(list_path.clone(), e.to_string()),
                    }
                }
            }
            Some(_) => self.fail(
                list_path.clone(),
                "must be a list of 0 to 5 distinct integers from 1 to 100",
            ),
        }
        match a.get("runout_forecast") {
            None | Some(Value::Null) => {}
            Some(Value::Bool(b)) => patch.runout_forecast = Some(*b),
            Some(_) => self.fail(join(&path, "runout_forecast"), "must be true or false"),
        }
        for k in a.keys() {
            if k != "thresholds" && k != "runout_forecast" {
                self.fail(join(&path, k), "is not a field of alerts");
            }
        }
        Some(patch)
    }

    /// Ok when nothing failed.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }
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
    fn canonical_ignores_order_and_nulls() {
        let a = json!({"b": 1, "a": {"y": [1, 2], "x": null}});
        let b = json!({"a": {"y": [1, 2]}, "b": 1});
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(
            canonical(&a),
            canonical(&json!({"b": 2, "a": {"y": [1, 2]}}))
        );
    }

    #[test]
    fn errors_carry_paths() {
        let mut c = Checker::default();
        let v = json!({"plan": {"monthly_credits": -1, "price": {"amount_cents": 1, "currency": "XXQ"}}});
        let m = c.object(&v, "").cloned().unwrap_or_default();
        let plan = c.nested(&m, "", "plan", true).cloned().unwrap_or_default();
        c.integer(&plan, "plan", "monthly_credits", true, 0);
        c.price(&plan, "plan", "price", true);
        let paths: Vec<String> = c.errors.iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, vec!["plan.monthly_credits", "plan.price.currency"]);
    }
}
