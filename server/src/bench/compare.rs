//! What the bench compares: the reports the dashboard makes, and how two
//! answers to one differ (the naive recomputation's, or the answer before
//! a retention run's drop).

use app::model::{Dimension, Filters, Metric};

use crate::store::Groups;

/// The reports the dashboard's views make, unfiltered and with the
/// drill-downs' filters (a user on the Credits tab; a campaign, an
/// identity or a user on the Conversations tab).
pub(super) fn dashboard_reports() -> Vec<(String, Metric, Vec<Dimension>, Filters)> {
    use Dimension::*;
    let none = Filters::default;
    let user = || Filters {
        user_id: Some("u00".into()),
        ..Filters::default()
    };
    let campaign = || Filters {
        campaign_id: Some("c00".into()),
        ..Filters::default()
    };
    let identity = || Filters {
        identity_id: Some("i00".into()),
        ..Filters::default()
    };
    let c = Metric::Credits;
    let v = Metric::Conversations;
    let list: Vec<(&str, Metric, Vec<Dimension>, Filters)> = vec![
        ("credits total", c, vec![], none()),
        ("credits by action", c, vec![Action], none()),
        ("credits by category", c, vec![Category], none()),
        ("credits by user", c, vec![User], none()),
        ("credits by day,action", c, vec![Day, Action], none()),
        ("credits by day,user", c, vec![Day, User], none()),
        ("credits by campaign", c, vec![Campaign], none()),
        ("credits by identity", c, vec![Identity], none()),
        (
            "credits by day,action for a user",
            c,
            vec![Day, Action],
            user(),
        ),
        ("credits by user for a user", c, vec![User], user()),
        (
            "credits by campaign for an identity",
            c,
            vec![Campaign],
            identity(),
        ),
        (
            "credits by identity for a campaign",
            c,
            vec![Identity],
            campaign(),
        ),
        ("conversations total", v, vec![], none()),
        ("conversations by day", v, vec![Day], none()),
        ("conversations by campaign", v, vec![Campaign], none()),
        ("conversations by identity", v, vec![Identity], none()),
        (
            "conversations by day for a campaign",
            v,
            vec![Day],
            campaign(),
        ),
        (
            "conversations by identity for a campaign",
            v,
            vec![Identity],
            campaign(),
        ),
        (
            "conversations by campaign for a user",
            v,
            vec![Campaign],
            user(),
        ),
    ];
    list.into_iter()
        .map(|(n, m, d, f)| (n.to_string(), m, d, f))
        .collect()
}

/// A report's groups, zero rows left out.
pub(super) fn groups_of(report: &app::model::Report) -> Groups {
    report
        .rows
        .iter()
        .filter(|r| r.value != 0)
        .map(|r| (r.keys.clone(), r.value))
        .collect()
}

/// How two answers differ (total and groups), at most 10 lines.
pub(super) fn describe(name: &str, ours: &(i64, Groups), naive: &(i64, Groups)) -> Vec<String> {
    let mut out = Vec::new();
    if ours.0 != naive.0 {
        out.push(format!("{name}: total {} vs naive {}", ours.0, naive.0));
    }
    let keys: std::collections::BTreeSet<_> = ours.1.keys().chain(naive.1.keys()).collect();
    for k in keys {
        let (a, b) = (ours.1.get(k), naive.1.get(k));
        if a != b {
            out.push(format!("{name}: {k:?} is {a:?}, naive {b:?}"));
        }
    }
    out.truncate(10);
    out
}
