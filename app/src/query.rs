//! Reading a usage query from URL parameters, for the API and the dashboard.

use crate::domain::calendar::Period;
use crate::domain::ledger::Action;
use crate::model::{Dimension, Filters, Metric, UsageQuery};

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
    fn ids_are_checked() {
        assert!(is_valid_id("ws:acme-1.x_y"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id(&"a".repeat(65)));
        assert!(!is_valid_id("a b"));
        assert!(!is_valid_id("é"));
    }
}
