//! Alerts (API.md, "Alerts (v1.1)"): which thresholds a cycle has reached,
//! and what a change of its figures fires. Pure: the store calls
//! [`assess`] inside the transaction that changed the cycle's row, holding
//! that row's lock, so each decision is made exactly once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// Most thresholds a workspace may set.
pub const MAX_THRESHOLDS: usize = 5;

/// A workspace's alert settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertSettings {
    /// Percentages (1–100) of the cycle's granted credits used, ascending.
    pub thresholds: Vec<u8>,
    /// Whether to record a run-out forecast alert.
    pub runout_forecast: bool,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self {
            thresholds: vec![80, 100],
            runout_forecast: true,
        }
    }
}

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("at most {MAX_THRESHOLDS} thresholds")]
    TooMany,
    #[error("each threshold is an integer from 1 to 100")]
    OutOfRange,
    #[error("thresholds must be distinct")]
    Duplicate,
}

impl AlertSettings {
    /// Settings from the values a client sent, validated; thresholds are
    /// kept ascending.
    pub fn new(thresholds: &[i64], runout_forecast: bool) -> Result<Self, SettingsError> {
        if thresholds.len() > MAX_THRESHOLDS {
            return Err(SettingsError::TooMany);
        }
        let mut set = BTreeSet::new();
        for &t in thresholds {
            let t = u8::try_from(t)
                .ok()
                .filter(|t| (1..=100).contains(t))
                .ok_or(SettingsError::OutOfRange)?;
            if !set.insert(t) {
                return Err(SettingsError::Duplicate);
            }
        }
        Ok(Self {
            thresholds: set.into_iter().collect(),
            runout_forecast,
        })
    }

    /// The stored form of the thresholds: `"50,80,100"`.
    pub fn thresholds_text(&self) -> String {
        join(self.thresholds.iter().copied())
    }
}

/// `"50,80"` → {50, 80}; unreadable parts are skipped.
pub fn parse_set(text: &str) -> BTreeSet<u8> {
    text.split(',')
        .filter_map(|p| p.trim().parse::<u8>().ok())
        .collect()
}

/// {50, 80} → `"50,80"`.
pub fn join(set: impl IntoIterator<Item = u8>) -> String {
    set.into_iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `used` credits reach `percent` of `granted`
/// (`used * 100 >= percent * granted`); nothing used reaches nothing.
pub fn reaches(used: i64, granted: i64, percent: u8) -> bool {
    used > 0 && i128::from(used) * 100 >= i128::from(percent) * i128::from(granted)
}

/// What a change of a cycle's figures fires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assessment {
    /// Thresholds reached now for the first time since they were armed, ascending.
    pub fired: Vec<u8>,
    /// Reached thresholds that are no longer reached (credits were granted), ascending.
    pub recovered: Vec<u8>,
    /// The reached set to store.
    pub reached: BTreeSet<u8>,
}

/// Compares the cycle's figures with the thresholds it had reached.
///
/// `usage` says whether the change was usage (an event or a charge):
/// thresholds fire only with usage, so that changing the settings or
/// granting credits never fires one; a grant can only recover them.
pub fn assess(
    thresholds: &[u8],
    reached: &BTreeSet<u8>,
    used: i64,
    granted: i64,
    usage: bool,
) -> Assessment {
    let mut now = reached.clone();
    let mut out = Assessment::default();
    // Any reached threshold (even one no longer in the settings) recovers
    // when it is no longer reached, and is re-armed.
    for &p in reached {
        if !reaches(used, granted, p) {
            now.remove(&p);
            out.recovered.push(p);
        }
    }
    if usage {
        for &p in thresholds {
            if reaches(used, granted, p) && now.insert(p) {
                out.fired.push(p);
            }
        }
    }
    out.fired.sort_unstable();
    out.reached = now;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(v: &[u8]) -> BTreeSet<u8> {
        v.iter().copied().collect()
    }

    #[test]
    fn settings_are_validated() {
        assert_eq!(
            AlertSettings::new(&[100, 50, 80], false),
            Ok(AlertSettings {
                thresholds: vec![50, 80, 100],
                runout_forecast: false
            })
        );
        assert!(AlertSettings::new(&[], true).is_ok());
        assert_eq!(
            AlertSettings::new(&[0], true),
            Err(SettingsError::OutOfRange)
        );
        assert_eq!(
            AlertSettings::new(&[101], true),
            Err(SettingsError::OutOfRange)
        );
        assert_eq!(
            AlertSettings::new(&[50, 50], true),
            Err(SettingsError::Duplicate)
        );
        assert_eq!(
            AlertSettings::new(&[1, 2, 3, 4, 5, 6], true),
            Err(SettingsError::TooMany)
        );
        assert_eq!(AlertSettings::default().thresholds_text(), "80,100");
        assert_eq!(parse_set("80,100"), set(&[80, 100]));
        assert_eq!(parse_set(""), set(&[]));
    }

    #[test]
    fn a_batch_crossing_two_thresholds_fires_both() {
        let a = assess(&[50, 80, 100], &set(&[]), 8_500, 10_000, true);
        assert_eq!(a.fired, vec![50, 80]);
        assert_eq!(a.reached, set(&[50, 80]));
        let again = assess(&[50, 80, 100], &a.reached, 8_600, 10_000, true);
        assert_eq!(again.fired, Vec::<u8>::new());
    }

    #[test]
    fn a_grant_recovers_and_rearms() {
        let a = assess(&[80, 100], &set(&[80, 100]), 10_000, 20_000, false);
        assert_eq!(a.recovered, vec![80, 100]);
        assert!(a.fired.is_empty());
        assert_eq!(a.reached, set(&[]));
        let b = assess(&[80, 100], &a.reached, 16_000, 20_000, true);
        assert_eq!(b.fired, vec![80]);
    }

    #[test]
    fn exact_boundary_and_nothing_used() {
        assert!(reaches(8_000, 10_000, 80));
        assert!(!reaches(7_999, 10_000, 80));
        assert!(!reaches(0, 0, 80));
        assert!(reaches(1, 0, 100));
        assert!(reaches(i64::MAX, i64::MAX, 100));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        /// However usage arrives, each threshold fires once per arming, and
        /// the reached set is exactly the thresholds reached.
        #[test]
        fn each_threshold_fires_once(granted in 1i64..100_000, steps in proptest::collection::vec(0i64..5_000, 1..40)) {
            let thresholds = [50u8, 80, 90, 100];
            let mut reached = BTreeSet::new();
            let mut used = 0;
            let mut fired = Vec::new();
            for s in steps {
                used += s;
                let a = assess(&thresholds, &reached, used, granted, true);
                prop_assert!(a.recovered.is_empty());
                fired.extend(a.fired);
                reached = a.reached;
            }
            let expected: Vec<u8> = thresholds.iter().copied().filter(|p| reaches(used, granted, *p)).collect();
            fired.sort_unstable();
            prop_assert_eq!(fired, expected.clone());
            prop_assert_eq!(reached, expected.into_iter().collect::<BTreeSet<u8>>());
        }
    }
}
