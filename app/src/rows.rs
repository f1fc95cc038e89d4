//! Report rows as the contract lists them (API.md, credit-usage): their
//! order and their labels. Pure: the store sums the groups, this arranges
//! them, for the API, the CSV and the pages alike.

use std::collections::BTreeMap;

use crate::domain::calendar::DateRange;
use crate::domain::ledger::{Action, Category};
use crate::model::{Dimension, Directory, GroupRow, Named};

/// The current names of a workspace's users, campaigns and identities.
pub trait Labels {
    fn user(&self, id: &str) -> Option<&str>;
    fn campaign(&self, id: &str) -> Option<&str>;
    fn identity(&self, id: &str) -> Option<&str>;
}

/// The directory the pages carry labels their rows and series (a linear
/// search: a workspace has tens of users, campaigns and identities).
impl Labels for Directory {
    fn user(&self, id: &str) -> Option<&str> {
        name_of(&self.users, id)
    }
    fn campaign(&self, id: &str) -> Option<&str> {
        name_of(&self.campaigns, id)
    }
    fn identity(&self, id: &str) -> Option<&str> {
        name_of(&self.identities, id)
    }
}

fn name_of<'a>(names: &'a [Named], id: &str) -> Option<&'a str> {
    names.iter().find(|n| n.id == id).map(|n| n.name.as_str())
}

/// The current label of a key: an action's or category's label, a name
/// from the directory, the key itself when unknown, "None" for events
/// that name none.
pub fn label_of(dim: Dimension, key: Option<&str>, labels: &dyn Labels) -> String {
    let Some(key) = key else {
        return "None".to_string();
    };
    let found = match dim {
        Dimension::Day => None,
        Dimension::Action => Action::parse(key).map(|a| a.label().to_string()),
        Dimension::Category => Category::parse(key).map(|c| c.label().to_string()),
        Dimension::User => labels.user(key).map(str::to_string),
        Dimension::Campaign => labels.campaign(key).map(str::to_string),
        Dimension::Identity => labels.identity(key).map(str::to_string),
    };
    found.unwrap_or_else(|| key.to_string())
}

/// Sorts groups as API.md says and labels them. `group_by=day` alone lists
/// every day of the period, zero-filled, in date order; `day` with another
/// dimension is a time series (date order, then value descending, then
/// key); anything else is by value descending, then key (none last).
/// Only a single dimension other than `day` gets labels.
pub fn arrange_rows(
    dims: &[Dimension],
    groups: BTreeMap<Vec<Option<String>>, i64>,
    range: DateRange,
    labels: &dyn Labels,
) -> Vec<GroupRow> {
    if dims.is_empty() {
        return Vec::new();
    }
    if dims == [Dimension::Day] {
        return range
            .dates()
            .map(|d| {
                let key = Some(d.format("%Y-%m-%d").to_string());
                let value = groups.get(&vec![key.clone()]).copied().unwrap_or(0);
                GroupRow {
                    keys: vec![key],
                    label: None,
                    value,
                }
            })
            .collect();
    }
    let single = dims.len() == 1 && dims[0] != Dimension::Day;
    let mut rows: Vec<GroupRow> = groups
        .into_iter()
        .map(|(keys, value)| {
            let label = single.then(|| label_of(dims[0], keys[0].as_deref(), labels));
            GroupRow { keys, label, value }
        })
        .collect();
    let key = |r: &GroupRow| {
        r.keys
            .iter()
            .map(|k| (k.is_none(), k.clone()))
            .collect::<Vec<_>>()
    };
    match dims.iter().position(|d| *d == Dimension::Day) {
        // A time series (`day,action`, `user,day`...): date order, then
        // value descending, then key.
        Some(day) => rows.sort_by(|a, b| {
            a.keys[day]
                .cmp(&b.keys[day])
                .then_with(|| b.value.cmp(&a.value))
                .then_with(|| key(a).cmp(&key(b)))
        }),
        None => rows.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| key(a).cmp(&key(b)))),
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use proptest::prelude::*;

    struct Dir;

    impl Labels for Dir {
        fn user(&self, id: &str) -> Option<&str> {
            (id == "u_ana").then_some("Ana")
        }
        fn campaign(&self, id: &str) -> Option<&str> {
            (id == "c_spring").then_some("Spring")
        }
        fn identity(&self, _: &str) -> Option<&str> {
            None
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn range() -> DateRange {
        DateRange {
            from: day("2026-11-01"),
            to: day("2026-11-04"),
        }
    }

    fn groups(rows: &[(&[Option<&str>], i64)]) -> BTreeMap<Vec<Option<String>>, i64> {
        rows.iter()
            .map(|(k, v)| (k.iter().map(|k| k.map(str::to_string)).collect(), *v))
            .collect()
    }

    #[test]
    fn labels_name_what_they_know() {
        assert_eq!(label_of(Dimension::User, Some("u_ana"), &Dir), "Ana");
        assert_eq!(label_of(Dimension::User, Some("u_gone"), &Dir), "u_gone");
        assert_eq!(label_of(Dimension::Campaign, None, &Dir), "None");
        assert_eq!(
            label_of(Dimension::Action, Some("enrich_email"), &Dir),
            "Enrich contact email"
        );
        assert_eq!(
            label_of(Dimension::Day, Some("2026-11-01"), &Dir),
            "2026-11-01"
        );
    }

    #[test]
    fn days_alone_fill_the_period_in_date_order() {
        let rows = arrange_rows(
            &[Dimension::Day],
            groups(&[(&[Some("2026-11-03")], 5), (&[Some("2026-11-01")], 2)]),
            range(),
            &Dir,
        );
        let keys: Vec<_> = rows
            .iter()
            .map(|r| (r.keys[0].clone().unwrap_or_default(), r.value))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("2026-11-01".to_string(), 2),
                ("2026-11-02".to_string(), 0),
                ("2026-11-03".to_string(), 5)
            ]
        );
    }

    #[test]
    fn a_time_series_is_in_date_order_then_value_then_key() {
        let rows = arrange_rows(
            &[Dimension::User, Dimension::Day],
            groups(&[
                (&[Some("u_b"), Some("2026-11-02")], 1),
                (&[Some("u_a"), Some("2026-11-02")], 1),
                (&[None, Some("2026-11-01")], 1),
                (&[Some("u_c"), Some("2026-11-01")], 9),
            ]),
            range(),
            &Dir,
        );
        let keys: Vec<_> = rows.iter().map(|r| r.keys[0].clone()).collect();
        assert_eq!(
            keys,
            vec![
                Some("u_c".into()),
                None,
                Some("u_a".into()),
                Some("u_b".into())
            ]
        );
        assert!(rows.iter().all(|r| r.label.is_none()));
    }

    #[test]
    fn one_dimension_is_by_value_with_none_last_among_equals() {
        let rows = arrange_rows(
            &[Dimension::User],
            groups(&[(&[None], 3), (&[Some("u_ana")], 3), (&[Some("u_zed")], 7)]),
            range(),
            &Dir,
        );
        let labels: Vec<_> = rows
            .iter()
            .map(|r| r.label.clone().unwrap_or_default())
            .collect();
        assert_eq!(labels, vec!["u_zed", "Ana", "None"]);
    }

    proptest! {
        /// Arranging keeps every group once, with its value.
        #[test]
        fn arranging_loses_nothing(values in proptest::collection::btree_map(
            (0u8..5, 0u8..4), 1i64..1000, 0..20)) {
            let groups: BTreeMap<Vec<Option<String>>, i64> = values
                .iter()
                .map(|((u, d), v)| (vec![
                    (*u > 0).then(|| format!("u{u}")),
                    Some(format!("2026-11-0{}", d + 1)),
                ], *v))
                .collect();
            let rows = arrange_rows(&[Dimension::User, Dimension::Day], groups.clone(), range(), &Dir);
            prop_assert_eq!(rows.len(), groups.len());
            let back: BTreeMap<_, _> = rows.into_iter().map(|r| (r.keys, r.value)).collect();
            prop_assert_eq!(back, groups);
        }
    }
}
