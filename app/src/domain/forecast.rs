//! The depletion forecast: at the recent pace, when does the balance reach
//! zero, against the renewal date.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

use super::calendar::DateRange;

/// Days of history the pace is taken from.
pub const PACE_DAYS: i64 = 7;

/// What the forecast says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    /// The days the pace was computed from: the 7 full local days before today.
    pub pace_window: DateRange,
    /// Credits per day over that window.
    pub pace_per_day: f64,
    pub renews_on: NaiveDate,
    pub outlook: Outlook,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outlook {
    /// The balance lasts until renewal at this pace.
    EnoughUntilRenewal,
    /// The balance reaches zero during this local day, before renewal.
    RunsOutOn { date: NaiveDate },
    /// Nothing is left already.
    AlreadyOut,
}

/// The window of the pace: the `PACE_DAYS` full local days before `today`.
pub fn pace_window(today: NaiveDate) -> DateRange {
    DateRange {
        from: today - Duration::days(PACE_DAYS),
        to: today,
    }
}

/// Forecast from the credits `left` now, the credits used in the pace
/// window, and the renewal date.
pub fn forecast(
    today: NaiveDate,
    left: i64,
    used_in_window: i64,
    renews_on: NaiveDate,
) -> Forecast {
    let window = pace_window(today);
    let pace = used_in_window.max(0) as f64 / PACE_DAYS as f64;
    let outlook = if left <= 0 {
        Outlook::AlreadyOut
    } else if pace <= 0.0 {
        Outlook::EnoughUntilRenewal
    } else {
        // Whole days of pace the balance still covers, counting today.
        let days = (left as f64 / pace).floor() as i64;
        match today.checked_add_signed(Duration::days(days.min(100_000))) {
            Some(date) if date < renews_on => Outlook::RunsOutOn { date },
            _ => Outlook::EnoughUntilRenewal,
        }
    };
    Forecast {
        pace_window: window,
        pace_per_day: pace,
        renews_on,
        outlook,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn runs_out_before_renewal() {
        // 700 credits in 7 days: 100 a day; 450 left lasts 4 more days.
        let f = forecast(d("2026-11-20"), 450, 700, d("2026-12-01"));
        assert_eq!(f.pace_per_day, 100.0);
        assert_eq!(
            f.outlook,
            Outlook::RunsOutOn {
                date: d("2026-11-24")
            }
        );
        assert_eq!(
            f.pace_window,
            DateRange {
                from: d("2026-11-13"),
                to: d("2026-11-20")
            }
        );
    }

    #[test]
    fn enough_when_slow_or_idle() {
        assert_eq!(
            forecast(d("2026-11-20"), 5_000, 700, d("2026-12-01")).outlook,
            Outlook::EnoughUntilRenewal
        );
        assert_eq!(
            forecast(d("2026-11-20"), 10, 0, d("2026-12-01")).outlook,
            Outlook::EnoughUntilRenewal
        );
        assert_eq!(
            forecast(d("2026-11-20"), 0, 70, d("2026-12-01")).outlook,
            Outlook::AlreadyOut
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        /// A run-out date is never before today nor on or after renewal, and
        /// a faster pace never runs out later.
        #[test]
        fn run_out_is_within_the_cycle(left in 0i64..1_000_000, used in 0i64..1_000_000, extra in 0i64..1_000_000, day in 0i64..30) {
            let today = d("2026-11-01") + Duration::days(day);
            let renew = d("2026-12-01");
            let slow = forecast(today, left, used, renew);
            let fast = forecast(today, left, used + extra, renew);
            if let Outlook::RunsOutOn { date } = slow.outlook {
                prop_assert!(date >= today && date < renew);
                match fast.outlook {
                    Outlook::RunsOutOn { date: f } => prop_assert!(f <= date),
                    other => prop_assert!(false, "faster pace gave {:?}", other),
                }
            }
        }
    }
}
