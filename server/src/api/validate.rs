//! Reading request bodies field by field, collecting every error by path.

use serde_json::{Map, Value};

use super::error::FieldError;
use app::domain::limits::{Limit, LimitMode, MAX_LIMIT_CREDITS};
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

/// A field of a body, by name: the object it is in, that object's path
/// (for error paths such as `plan.name`), its key, and whether the body
/// must have it.
#[derive(Clone, Copy)]
pub struct Field<'a> {
    object: &'a Map<String, Value>,
    prefix: &'a str,
    key: &'a str,
    required: bool,
}

impl<'a> Field<'a> {
    /// A field the body must have.
    pub fn required(object: &'a Map<String, Value>, key: &'a str) -> Self {
        Self::required_if(object, key, true)
    }

    /// A field the body may leave out (or send as `null`).
    pub fn optional(object: &'a Map<String, Value>, key: &'a str) -> Self {
        Self::required_if(object, key, false)
    }

    /// A field the body must have when `required` is true.
    pub fn required_if(object: &'a Map<String, Value>, key: &'a str, required: bool) -> Self {
        Self {
            object,
            prefix: "",
            key,
            required,
        }
    }

    /// The field of a nested object, whose path is `prefix`.
    pub fn under(self, prefix: &'a str) -> Self {
        Self { prefix, ..self }
    }

    /// The field's path in error messages.
    pub fn path(&self) -> String {
        join(self.prefix, self.key)
    }
}

/// The most characters a text field may hold.
#[derive(Debug, Clone, Copy)]
pub struct MaxChars(pub usize);

impl MaxChars {
    /// Names of workspaces, plans, people, campaigns, identities.
    pub const NAME: Self = Self(200);
    /// An IANA time-zone name.
    pub const TIMEZONE: Self = Self(64);
    /// An RFC 3339 instant.
    pub const TIMESTAMP: Self = Self(64);
    /// A grant's note.
    pub const NOTE: Self = Self(1_000);
    /// An ISO 4217 currency code.
    pub const CURRENCY: Self = Self(3);
    /// An email address (RFC 5321's limit).
    pub const EMAIL: Self = Self(254);
}

/// The least an integer field may be (and at most 10^12, far past any plan).
#[derive(Debug, Clone, Copy)]
pub struct AtLeast(pub i64);

impl AtLeast {
    /// Counts that may be zero (credits of a plan, identities included, cents).
    pub const ZERO: Self = Self(0);
    /// Counts that must be positive (credits of a grant or an event).
    pub const ONE: Self = Self(1);
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

    fn present<'a>(&mut self, f: Field<'a>) -> Option<&'a Value> {
        match f.object.get(f.key) {
            None | Some(Value::Null) => {
                if f.required {
                    self.fail(f.path(), "is required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// A string of 1..=max characters (trimmed of nothing).
    pub fn text(&mut self, f: Field<'_>, max: MaxChars) -> Option<String> {
        let v = self.present(f)?;
        match v.as_str() {
            Some(s) if s.trim().is_empty() => {
                self.fail(f.path(), "must not be empty");
                None
            }
            Some(s) if s.chars().count() > max.0 => {
                self.fail(f.path(), format!("must be at most {} characters", max.0));
                None
            }
            Some(s) => Some(s.to_string()),
            None => {
                self.fail(f.path(), "must be a string");
                None
            }
        }
    }

    /// A platform id.
    pub fn id(&mut self, f: Field<'_>) -> Option<String> {
        let v = self.present(f)?;
        match v.as_str() {
            Some(s) if is_valid_id(s) => Some(s.to_string()),
            _ => {
                self.fail(f.path(), "must be 1-64 characters of A-Z a-z 0-9 _ . : -");
                None
            }
        }
    }

    /// One of `allowed`.
    pub fn choice(&mut self, f: Field<'_>, allowed: &[&str]) -> Option<String> {
        let v = self.present(f)?;
        match v.as_str() {
            Some(s) if allowed.contains(&s) => Some(s.to_string()),
            _ => {
                self.fail(f.path(), format!("must be one of: {}", allowed.join(", ")));
                None
            }
        }
    }

    /// An integer of at least `min` (and at most 10^12, far past any plan).
    pub fn integer(&mut self, f: Field<'_>, min: AtLeast) -> Option<i64> {
        let v = self.present(f)?;
        let min = min.0;
        let what = if min > 0 {
            "must be a positive integer"
        } else {
            "must be a non-negative integer"
        };
        match v.as_i64() {
            Some(n) if n >= min && n <= 1_000_000_000_000 => Some(n),
            _ => {
                self.fail(f.path(), what);
                None
            }
        }
    }

    /// An email address (a plain shape check).
    pub fn email(&mut self, f: Field<'_>) -> Option<String> {
        let s = self.text(f, MaxChars::EMAIL)?;
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
            }
            None => false,
        };
        if ok {
            Some(s)
        } else {
            self.fail(f.path(), "must be an email address");
            None
        }
    }

    /// A nested object.
    pub fn nested<'a>(&mut self, f: Field<'a>) -> Option<&'a Map<String, Value>> {
        let v = self.present(f)?;
        self.object(v, &f.path())
    }

    /// A price object: `amount_cents` ≥ 0 and an ISO 4217 `currency`.
    pub fn price(&mut self, f: Field<'_>) -> Option<app::model::Price> {
        let p = self.nested(f)?;
        let path = f.path();
        let amount = self.integer(
            Field::required(p, "amount_cents").under(&path),
            AtLeast::ZERO,
        );
        let currency = self.text(
            Field::required(p, "currency").under(&path),
            MaxChars::CURRENCY,
        );
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
    pub fn alerts(&mut self, f: Field<'_>) -> Option<crate::store::AlertsPatch> {
        let a = self.nested(f)?;
        let path = f.path();
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

    /// An integer from `min` to `max`.
    pub fn bounded(&mut self, f: Field<'_>, min: i64, max: i64) -> Option<i64> {
        let v = self.present(f)?;
        match v.as_i64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.fail(f.path(), format!("must be an integer from {min} to {max}"));
                None
            }
        }
    }

    /// A limit object (v1.2): `credits` from 0 to 10^9 and `mode`, both
    /// required, nothing else.
    pub fn limit(&mut self, v: &Value, path: &str) -> Option<Limit> {
        let m = self.object(v, path)?;
        let credits = self.bounded(
            Field::required(m, "credits").under(path),
            0,
            MAX_LIMIT_CREDITS,
        );
        let mode = self
            .choice(Field::required(m, "mode").under(path), &["hard", "soft"])
            .and_then(|s| LimitMode::parse(&s));
        self.only(m, path, &["credits", "mode"], "a limit");
        Some(Limit {
            credits: credits?,
            mode: mode?,
        })
    }

    /// The workspace's `limits` field (v1.2): a key left out keeps its
    /// stored value; `user_default` may be `null` (no default).
    pub fn limits(&mut self, f: Field<'_>) -> Option<crate::store::LimitsPatch> {
        let m = self.nested(f)?;
        let path = f.path();
        let mut patch = crate::store::LimitsPatch::default();
        let mut ok = true;
        match m.get("user_default") {
            None => {}
            Some(Value::Null) => patch.user_default = Some(None),
            Some(v) => match self.limit(v, &join(&path, "user_default")) {
                Some(l) => patch.user_default = Some(Some(l)),
                None => ok = false,
            },
        }
        if m.contains_key("overage") {
            let field = Field::required(m, "overage").under(&path);
            match self.bounded(field, 0, MAX_LIMIT_CREDITS) {
                Some(n) => patch.overage = Some(n),
                None => ok = false,
            }
        }
        self.only(m, &path, &["user_default", "overage"], "limits");
        ok.then_some(patch)
    }

    /// Fails every key of `m` outside `allowed`.
    fn only(&mut self, m: &Map<String, Value>, path: &str, allowed: &[&str], what: &str) {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                self.fail(join(path, k), format!("is not a field of {what}"));
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_carry_paths() {
        let mut c = Checker::default();
        let v = json!({"plan": {"monthly_credits": -1, "price": {"amount_cents": 1, "currency": "XXQ"}}});
        let m = c.object(&v, "").cloned().unwrap_or_default();
        let plan = c
            .nested(Field::required(&m, "plan"))
            .cloned()
            .unwrap_or_default();
        c.integer(
            Field::required(&plan, "monthly_credits").under("plan"),
            AtLeast::ZERO,
        );
        c.price(Field::required(&plan, "price").under("plan"));
        let paths: Vec<String> = c.errors.iter().map(|e| e.path.clone()).collect();
        assert_eq!(paths, vec!["plan.monthly_credits", "plan.price.currency"]);
    }
}
