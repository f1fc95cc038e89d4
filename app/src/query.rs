//! The query string, and reading a usage query from it, for the API and
//! the dashboard.
//!
//! [`Query`] is the one type a query string travels as: it is parsed once
//! from the address (the repository's one decoder, [`decode`]), encoded
//! once for a link or a request (its one encoder, [`encode`]), and links
//! that change a parameter are built from it ([`Query::href`]).

use std::fmt;

use crate::domain::calendar::Period;
use crate::domain::ledger::Action;
use crate::model::{Dimension, Filters, Metric, UsageQuery};

/// A query string's decoded pairs, in their order (`period=last_week&user=u_1`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Query(Vec<(String, String)>);

impl Query {
    /// Reads a query string (with or without its `?`); pairs without a
    /// name are skipped, a pair without `=` has an empty value.
    pub fn parse(query: &str) -> Self {
        Query(
            query
                .trim_start_matches('?')
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .filter(|(k, _)| !k.is_empty())
                .collect(),
        )
    }

    /// A query of these pairs, in this order.
    pub fn of(pairs: &[(&str, &str)]) -> Self {
        Query(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The pairs, in their order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No pairs at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        get(&self.0, name)
    }

    /// This query with some parameters set (`Some`, moved to the end) or
    /// removed (`None`).
    pub fn with(&self, changes: &[(&str, Option<&str>)]) -> Query {
        let mut pairs: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .cloned()
            .collect();
        for (k, v) in changes {
            if let Some(v) = v {
                pairs.push((k.to_string(), v.to_string()));
            }
        }
        Query(pairs)
    }

    /// The pairs whose name `keep` accepts.
    pub fn only(&self, keep: impl Fn(&str) -> bool) -> Query {
        Query(self.0.iter().filter(|(k, _)| keep(k)).cloned().collect())
    }

    /// A link to `path` with this query (`path` alone when it is empty).
    pub fn href(&self, path: &str) -> String {
        if self.0.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{self}")
        }
    }

    /// A link to `path` with this query changed (see [`Query::with`]).
    pub fn href_with(&self, path: &str, changes: &[(&str, Option<&str>)]) -> String {
        self.with(changes).href(path)
    }
}

/// Where the page is: its path (`/usage/credits`) and its query string
/// (`period=last_week&user=u_1`, without the `?`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Url {
    pub path: String,
    pub query: String,
}

impl Url {
    /// Splits `path?query` (a `#fragment` is dropped).
    pub fn parse(href: &str) -> Self {
        let href = href.split('#').next().unwrap_or_default();
        let (path, query) = href.split_once('?').unwrap_or((href, ""));
        Url {
            path: path.to_string(),
            query: query.to_string(),
        }
    }

    /// `path?query`, or the path alone.
    pub fn href(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }

    /// The query string, decoded.
    pub fn params(&self) -> Query {
        Query::parse(&self.query)
    }
}

impl From<Vec<(String, String)>> for Query {
    fn from(pairs: Vec<(String, String)>) -> Self {
        Query(pairs)
    }
}

impl<'a> IntoIterator for &'a Query {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// The encoded query string, without its `?` (`a=1&b=2`).
impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{}={}", encode(k), encode(v))?;
        }
        Ok(())
    }
}

/// Encodes one query-string component (RFC 3986's unreserved characters
/// and `:` stay as they are): the repository's one URL encoder, for the
/// browser's links and the server's redirects alike.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a
/// space, `%XX` a byte; a `%` not followed by two hex digits stays as it
/// is, and bytes that are not UTF-8 become U+FFFD (as browsers do).
pub fn decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parameter that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl ParamError {
    fn new(param: &str, message: impl Into<String>) -> Self {
        Self {
            param: param.to_string(),
            message: message.into(),
        }
    }
}

/// Names of the filter parameters: the API's (`user_id`, …) or the
/// dashboard's shorter ones (`user`, …).
#[derive(Debug, Clone, Copy)]
pub struct FilterNames {
    pub user: &'static str,
    pub action: &'static str,
    pub campaign: &'static str,
    pub identity: &'static str,
}

/// The API's filter parameter names.
pub const API_FILTERS: FilterNames = FilterNames {
    user: "user_id",
    action: "action",
    campaign: "campaign_id",
    identity: "identity_id",
};

/// The dashboard's filter parameter names.
pub const PAGE_FILTERS: FilterNames = FilterNames {
    user: "user",
    action: "action",
    campaign: "campaign",
    identity: "identity",
};

/// Whether `s` is a valid platform id: 1–64 of `[A-Za-z0-9_.:-]`.
pub fn is_valid_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
}

fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Reads the period, `group_by` and filters; every bad parameter is listed.
/// Most parameters a query may carry; more is refused before parsing.
pub const MAX_PARAMS: usize = 64;
/// Longest query string, in bytes; longer is refused before parsing.
pub const MAX_QUERY_BYTES: usize = 4_096;

pub fn parse_usage_query(
    metric: Metric,
    params: &[(String, String)],
    names: FilterNames,
) -> Result<UsageQuery, Vec<ParamError>> {
    let mut errors = Vec::new();
    if params.len() > MAX_PARAMS {
        return Err(vec![ParamError::new(
            "$query",
            format!("has more than {MAX_PARAMS} parameters"),
        )]);
    }
    // Linear: a set of the names seen, and one error per repeated name.
    let mut seen = std::collections::HashSet::with_capacity(params.len());
    let mut repeated = std::collections::HashSet::new();
    for (k, _) in params {
        if !seen.insert(k.as_str()) && repeated.insert(k.as_str()) {
            errors.push(ParamError::new(k, "is given more than once"));
        }
    }
    let period = Period::parse(
        get(params, "period"),
        get(params, "date"),
        get(params, "from"),
        get(params, "to"),
    )
    .map_err(|e| errors.push(ParamError::new(e.param(), e.to_string())))
    .ok();
    let mut group_by = Vec::new();
    if let Some(g) = get(params, "group_by") {
        let parts: Vec<&str> = g.split(',').collect();
        if parts.is_empty() || parts.len() > 2 {
            errors.push(ParamError::new(
                "group_by",
                "takes one or two dimensions joined by a comma",
            ));
        }
        for p in parts.iter().take(2) {
            match Dimension::parse(p.trim()) {
                Some(d) if metric.allows(d) && !group_by.contains(&d) => group_by.push(d),
                Some(d) if group_by.contains(&d) => {
                    errors.push(ParamError::new(
                        "group_by",
                        format!("names {} twice", d.key()),
                    ));
                }
                _ => {
                    let valid = match metric {
                        Metric::Credits => "day, action, category, user, campaign, identity",
                        Metric::Conversations => "day, campaign, identity, user",
                    };
                    errors.push(ParamError::new(
                        "group_by",
                        format!("unknown dimension {p:?}; expected {valid}"),
                    ));
                }
            }
        }
    }
    let mut id_filter = |name: &'static str| -> Option<String> {
        let v = get(params, name)?;
        if is_valid_id(v) {
            Some(v.to_string())
        } else {
            errors.push(ParamError::new(
                name,
                "must be 1-64 characters of A-Z a-z 0-9 _ . : -",
            ));
            None
        }
    };
    let user_id = id_filter(names.user);
    let campaign_id = id_filter(names.campaign);
    let identity_id = id_filter(names.identity);
    let action = match (metric, get(params, names.action)) {
        (_, None) => None,
        (Metric::Conversations, Some(_)) => {
            errors.push(ParamError::new(
                names.action,
                "conversations have no action",
            ));
            None
        }
        (Metric::Credits, Some(a)) => match Action::parse(a) {
            Some(a) => Some(a.key().to_string()),
            None => {
                errors.push(ParamError::new(
                    names.action,
                    format!("unknown action; expected one of {}", Action::valid_keys()),
                ));
                None
            }
        },
    };
    match period {
        Some(period) if errors.is_empty() => Ok(UsageQuery {
            period,
            group_by,
            filters: Filters {
                user_id,
                action,
                campaign_id,
                identity_id,
            },
        }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_a_full_query() {
        let q = parse_usage_query(
            Metric::Credits,
            &p(&[
                ("period", "last_week"),
                ("group_by", "day,action"),
                ("user_id", "u_mikaela"),
            ]),
            API_FILTERS,
        );
        let q = q.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(q.period, Period::LastWeek);
        assert_eq!(q.group_by, vec![Dimension::Day, Dimension::Action]);
        assert_eq!(q.filters.user_id.as_deref(), Some("u_mikaela"));
    }

    #[test]
    fn lists_every_bad_parameter() {
        let e = parse_usage_query(
            Metric::Conversations,
            &p(&[
                ("period", "fortnight"),
                ("group_by", "action"),
                ("action", "x"),
            ]),
            API_FILTERS,
        )
        .err()
        .unwrap_or_default();
        let params: Vec<&str> = e.iter().map(|e| e.param.as_str()).collect();
        assert_eq!(params, vec!["period", "group_by", "action"]);
    }

    #[test]
    fn decoding_forgives_what_a_hostile_address_holds() {
        assert_eq!(decode("a+b%20c"), "a b c");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }

    #[test]
    fn a_query_builds_its_links() {
        let q = Query::parse("?period=last_week&user=u%201&=x&action");
        assert_eq!(q.get("user"), Some("u 1"));
        assert_eq!(q.get("action"), Some(""));
        assert_eq!(q.len(), 3, "a pair without a name is skipped");
        let q = Query::parse("period=last_week&user=u%201");
        assert_eq!(
            q.href_with("/usage/credits", &[("user", None), ("action", Some("a&b"))]),
            "/usage/credits?period=last_week&action=a%26b"
        );
        assert_eq!(q.with(&[("period", None), ("user", None)]).href("/p"), "/p");
        assert_eq!(q.only(|k| k == "user").to_string(), "user=u%201");
    }

    #[test]
    fn links_keep_the_other_parameters() {
        let params = Query::of(&[
            ("period", "day"),
            ("date", "2026-11-03"),
            ("user", "u_mikaela"),
        ]);
        assert_eq!(
            params.href_with(
                "/usage/credits",
                &[("date", None), ("period", Some("last_week"))]
            ),
            "/usage/credits?user=u_mikaela&period=last_week"
        );
        assert_eq!(
            Query::default().href_with("/x", &[("user", Some("a b"))]),
            "/x?user=a%20b"
        );
        assert_eq!(
            Query::of(&[("user", "a")]).href_with("/x", &[("user", None)]),
            "/x"
        );
    }

    proptest::proptest! {
        /// Whatever a query holds, its text reads back the same.
        #[test]
        fn a_query_reads_back_its_text(pairs in proptest::collection::vec(("\\PC{1,8}", "\\PC{0,12}"), 0..6)) {
            let q = Query::from(pairs);
            proptest::prop_assert_eq!(Query::parse(&q.to_string()), q);
        }
    }

    #[test]
    fn ids_are_checked() {
        assert!(is_valid_id("ws:acme-1.x_y"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
    }
}
