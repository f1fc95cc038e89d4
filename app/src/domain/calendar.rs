//! The workspace calendar: local days, weeks, billing cycles and report periods.
//!
//! Pure functions, no I/O. Every range is half-open `[from, to)` of local
//! dates; a local day starts at its first existing instant (midnight, or the
//! end of a DST gap where midnight does not exist, as in America/Havana).

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The first day of a workspace's week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WeekStart {
    #[default]
    Monday,
    Sunday,
}

impl WeekStart {
    /// Parses the API's `monday` / `sunday`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "monday" => Some(Self::Monday),
            "sunday" => Some(Self::Sunday),
            _ => None,
        }
    }

    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Monday => "monday",
            Self::Sunday => "sunday",
        }
    }
}

/// A half-open range of local dates `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
}

impl DateRange {
    /// Number of local days covered.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days()
    }

    /// Every local date of the range, in order.
    pub fn dates(&self) -> impl Iterator<Item = NaiveDate> {
        let to = self.to;
        self.from.iter_days().take_while(move |d| *d < to)
    }

    /// The range of the same length that ends where this one starts.
    pub fn previous(&self) -> DateRange {
        let len = self.days().max(0) as u64;
        DateRange {
            from: self
                .from
                .checked_sub_days(Days::new(len))
                .unwrap_or(NaiveDate::MIN),
            to: self.from,
        }
    }

    /// The last date included (`to - 1`).
    pub fn last_day(&self) -> NaiveDate {
        self.to.pred_opt().unwrap_or(self.to)
    }

    /// Whether `date` lies inside the range.
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.from <= date && date < self.to
    }
}

/// A billing cycle: the 1st of a month 00:00 local to the 1st of the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillingCycle {
    pub start: NaiveDate,
    /// Exclusive; also the renewal date.
    pub end: NaiveDate,
}

impl BillingCycle {
    /// The cycle that holds `date`.
    pub fn containing(date: NaiveDate) -> Self {
        let start = first_of_month(date);
        let end = start
            .checked_add_months(Months::new(1))
            .unwrap_or(NaiveDate::MAX);
        Self { start, end }
    }

    /// Local days from `today` until renewal (the cycle's end).
    pub fn days_until_renewal(&self, today: NaiveDate) -> i64 {
        (self.end - today).num_days()
    }

    /// The cycle as a date range.
    pub fn range(&self) -> DateRange {
        DateRange {
            from: self.start,
            to: self.end,
        }
    }
}

fn first_of_month(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The periods of API.md (`period=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Period {
    Today,
    Yesterday,
    Day { date: NaiveDate },
    ThisWeek,
    LastWeek,
    ThisMonth,
    LastMonth,
    Last28Days,
    Custom { from: NaiveDate, to: NaiveDate },
}

/// Why a period's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("unknown period; expected one of today, yesterday, day, this_week, last_week, this_month, last_month, last_28_days, custom")]
    UnknownPeriod,
    #[error("is required")]
    Missing(&'static str),
    #[error("must be a date YYYY-MM-DD")]
    BadDate(&'static str),
    #[error("must not be before from")]
    Reversed,
    #[error("a custom range covers at most 366 days")]
    TooLong,
}

impl PeriodError {
    /// The query parameter the error is about.
    pub fn param(&self) -> &'static str {
        match self {
            Self::UnknownPeriod => "period",
            Self::Missing(p) | Self::BadDate(p) => p,
            Self::Reversed => "to",
            Self::TooLong => "to",
        }
    }
}

/// Longest custom range, in days.
pub const MAX_CUSTOM_DAYS: i64 = 366;

impl Period {
    /// The API name of the period.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Today => "today",
            Self::Yesterday => "yesterday",
            Self::Day { .. } => "day",
            Self::ThisWeek => "this_week",
            Self::LastWeek => "last_week",
            Self::ThisMonth => "this_month",
            Self::LastMonth => "last_month",
            Self::Last28Days => "last_28_days",
            Self::Custom { .. } => "custom",
        }
    }

    /// Parses `period`, `date`, `from`, `to` as the API takes them.
    /// A missing `period` means `this_month`.
    pub fn parse(
        period: Option<&str>,
        date: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Self, PeriodError> {
        let parse_date = |v: Option<&str>, name: &'static str| -> Result<NaiveDate, PeriodError> {
            let v = v.ok_or(PeriodError::Missing(name))?;
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| PeriodError::BadDate(name))
        };
        Ok(match period.unwrap_or("this_month") {
            "today" => Self::Today,
            "yesterday" => Self::Yesterday,
            "day" => Self::Day {
                date: parse_date(date, "date")?,
            },
            "this_week" => Self::ThisWeek,
            "last_week" => Self::LastWeek,
            "this_month" => Self::ThisMonth,
            "last_month" => Self::LastMonth,
            "last_28_days" => Self::Last28Days,
            "custom" => {
                let from = parse_date(from, "from")?;
                let to = parse_date(to, "to")?;
                if to < from {
                    return Err(PeriodError::Reversed);
                }
                if (to - from).num_days() + 1 > MAX_CUSTOM_DAYS {
                    return Err(PeriodError::TooLong);
                }
                Self::Custom { from, to }
            }
            _ => return Err(PeriodError::UnknownPeriod),
        })
    }

    /// The local dates covered, given today's local date and the week start.
    pub fn range(&self, today: NaiveDate, week_start: WeekStart) -> DateRange {
        let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
        let day = |d: NaiveDate| DateRange {
            from: d,
            to: next(d),
        };
        match *self {
            Self::Today => day(today),
            Self::Yesterday => day(today.pred_opt().unwrap_or(today)),
            Self::Day { date } => day(date),
            Self::ThisWeek => DateRange {
                from: week_start_of(today, week_start),
                to: next(today),
            },
            Self::LastWeek => {
                let this = week_start_of(today, week_start);
                DateRange {
                    from: this - Duration::days(7),
                    to: this,
                }
            }
            Self::ThisMonth => DateRange {
                from: first_of_month(today),
                to: next(today),
            },
            Self::LastMonth => {
                let this = first_of_month(today);
                let from = this.checked_sub_months(Months::new(1)).unwrap_or(this);
                DateRange { from, to: this }
            }
            Self::Last28Days => DateRange {
                from: today - Duration::days(27),
                to: next(today),
            },
            Self::Custom { from, to } => DateRange { from, to: next(to) },
        }
    }
}

/// The first day of the week holding `date`.
pub fn week_start_of(date: NaiveDate, week_start: WeekStart) -> NaiveDate {
    let back = match week_start {
        WeekStart::Monday => date.weekday().num_days_from_monday(),
        WeekStart::Sunday => date.weekday().num_days_from_sunday(),
    };
    date - Duration::days(i64::from(back))
}

/// A workspace's zone and week start, and the conversions between local
/// dates and UTC instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Calendar {
    pub tz: Tz,
    pub week_start: WeekStart,
}

impl Calendar {
    /// A calendar for `tz` and `week_start`.
    pub fn new(tz: Tz, week_start: WeekStart) -> Self {
        Self { tz, week_start }
    }

    /// The first existing instant of local `date`.
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.tz.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
            chrono::LocalResult::None => self.first_instant_at_or_after(midnight),
        }
    }

    /// Local midnight falls in a gap: the day starts when the gap ends, the
    /// first instant whose local time is at or after `local`.
    fn first_instant_at_or_after(&self, local: NaiveDateTime) -> DateTime<Utc> {
        // Offsets lie within ±26 h, so this bracket holds the answer.
        let mut lo = local.and_utc().timestamp() - 26 * 3600;
        let mut hi = local.and_utc().timestamp() + 26 * 3600;
        let reached = |secs: i64| -> bool {
            DateTime::from_timestamp(secs, 0)
                .map(|t| t.with_timezone(&self.tz).naive_local() >= local)
                .unwrap_or(true)
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if reached(mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        DateTime::from_timestamp(lo, 0).unwrap_or_default()
    }

    /// The local day bucket of an instant: the last date whose start is at
    /// or before it. Equal to the local date except in the rare zones whose
    /// clocks fall back across midnight, where the repeated hour stays in
    /// the day it follows, so that buckets tile time exactly.
    pub fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        let date = t.with_timezone(&self.tz).date_naive();
        match date.succ_opt() {
            Some(next) if self.day_start(next) <= t => next,
            _ => date,
        }
    }

    /// The local date of "now".
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        self.local_day(now)
    }

    /// The UTC instants `[from, to)` of a date range.
    pub fn instants(&self, range: DateRange) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.day_start(range.from), self.day_start(range.to))
    }

    /// The billing cycle that holds the instant `t`.
    pub fn cycle_at(&self, t: DateTime<Utc>) -> BillingCycle {
        BillingCycle::containing(self.local_day(t))
    }
}

/// Parses an IANA zone name.
pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn madrid() -> Calendar {
        Calendar::new(chrono_tz::Europe::Madrid, WeekStart::Monday)
    }

    #[test]
    fn periods_on_a_tuesday() {
        let today = d("2026-11-24");
        let r = |p: Period| p.range(today, WeekStart::Monday);
        assert_eq!(
            r(Period::Today),
            DateRange {
                from: d("2026-11-24"),
                to: d("2026-11-25")
            }
        );
        assert_eq!(
            r(Period::Yesterday),
            DateRange {
                from: d("2026-11-23"),
                to: d("2026-11-24")
            }
        );
        assert_eq!(
            r(Period::ThisWeek),
            DateRange {
                from: d("2026-11-23"),
                to: d("2026-11-25")
            }
        );
        assert_eq!(
            r(Period::LastWeek),
            DateRange {
                from: d("2026-11-16"),
                to: d("2026-11-23")
            }
        );
        assert_eq!(
            r(Period::ThisMonth),
            DateRange {
                from: d("2026-11-01"),
                to: d("2026-11-25")
            }
        );
        assert_eq!(
            r(Period::LastMonth),
            DateRange {
                from: d("2026-10-01"),
                to: d("2026-11-01")
            }
        );
        assert_eq!(
            r(Period::Last28Days),
            DateRange {
                from: d("2026-10-28"),
                to: d("2026-11-25")
            }
        );
        let sunday = Period::ThisWeek.range(today, WeekStart::Sunday);
        assert_eq!(
            sunday,
            DateRange {
                from: d("2026-11-22"),
                to: d("2026-11-25")
            }
        );
    }

    #[test]
    fn week_start_on_the_start_day_is_that_day() {
        assert_eq!(
            week_start_of(d("2026-11-23"), WeekStart::Monday),
            d("2026-11-23")
        );
        assert_eq!(
            week_start_of(d("2026-11-22"), WeekStart::Sunday),
            d("2026-11-22")
        );
        assert_eq!(
            week_start_of(d("2026-11-22"), WeekStart::Monday),
            d("2026-11-16")
        );
    }

    #[test]
    fn parse_rejects_what_it_cannot_read() {
        assert_eq!(Period::parse(None, None, None, None), Ok(Period::ThisMonth));
        assert_eq!(
            Period::parse(Some("week"), None, None, None),
            Err(PeriodError::UnknownPeriod)
        );
        assert_eq!(
            Period::parse(Some("day"), None, None, None),
            Err(PeriodError::Missing("date"))
        );
        assert_eq!(
            Period::parse(Some("day"), Some("2026-13-01"), None, None),
            Err(PeriodError::BadDate("date"))
        );
        assert_eq!(
            Period::parse(Some("custom"), None, Some("2026-11-05"), Some("2026-11-01")),
            Err(PeriodError::Reversed)
        );
        assert_eq!(
            Period::parse(Some("custom"), None, Some("2024-12-31"), Some("2026-01-01")),
            Err(PeriodError::TooLong)
        );
        assert!(
            Period::parse(Some("custom"), None, Some("2025-01-01"), Some("2025-12-31")).is_ok()
        );
        let custom = Period::parse(Some("custom"), None, Some("2026-11-01"), Some("2026-11-03"));
        assert_eq!(
            custom.map(|p| p.range(d("2026-11-24"), WeekStart::Monday)),
            Ok(DateRange {
                from: d("2026-11-01"),
                to: d("2026-11-04")
            })
        );
    }

    #[test]
    fn dst_days_are_23_and_25_hours_long() {
        let c = madrid();
        let len = |s: &str| {
            (c.day_start(d(s).succ_opt().unwrap_or_default()) - c.day_start(d(s))).num_hours()
        };
        assert_eq!(len("2026-03-29"), 23);
        assert_eq!(len("2026-10-25"), 25);
        assert_eq!(len("2026-11-03"), 24);
    }

    #[test]
    fn havana_day_starts_when_the_gap_ends() {
        // Cuba springs forward at 00:00 → 01:00 on 2026-03-08.
        let c = Calendar::new(chrono_tz::America::Havana, WeekStart::Monday);
        let start = c.day_start(d("2026-03-08"));
        let local = start.with_timezone(&chrono_tz::America::Havana);
        assert_eq!(local.date_naive(), d("2026-03-08"));
        assert_eq!(local.format("%H:%M").to_string(), "01:00");
        assert_eq!(c.local_day(start), d("2026-03-08"));
        assert_eq!(c.local_day(start - Duration::seconds(1)), d("2026-03-07"));
    }

    #[test]
    fn half_and_three_quarter_hour_zones() {
        let kolkata = Calendar::new(chrono_tz::Asia::Kolkata, WeekStart::Monday);
        assert_eq!(
            kolkata.day_start(d("2026-11-24")).to_rfc3339(),
            "2026-11-23T18:30:00+00:00"
        );
        let kathmandu = Calendar::new(chrono_tz::Asia::Kathmandu, WeekStart::Monday);
        assert_eq!(
            kathmandu.day_start(d("2026-11-24")).to_rfc3339(),
            "2026-11-23T18:15:00+00:00"
        );
        let chatham = Calendar::new(chrono_tz::Pacific::Chatham, WeekStart::Monday);
        assert_eq!(
            chatham.day_start(d("2026-07-01")).to_rfc3339(),
            "2026-06-30T11:15:00+00:00"
        );
    }

    #[test]
    fn cycles_and_renewal() {
        let c = BillingCycle::containing(d("2026-11-24"));
        assert_eq!((c.start, c.end), (d("2026-11-01"), d("2026-12-01")));
        assert_eq!(c.days_until_renewal(d("2026-11-24")), 7);
        assert_eq!(
            BillingCycle::containing(d("2026-12-31")).end,
            d("2027-01-01")
        );
        // A cycle starts at local midnight of the 1st, not UTC midnight.
        let m = madrid();
        let t = DateTime::parse_from_rfc3339("2026-11-30T23:30:00Z").map(|t| t.with_timezone(&Utc));
        assert_eq!(t.map(|t| m.cycle_at(t).start), Ok(d("2026-12-01")));
    }

    #[test]
    fn previous_period_has_the_same_length() {
        let r = DateRange {
            from: d("2026-11-16"),
            to: d("2026-11-23"),
        };
        assert_eq!(
            r.previous(),
            DateRange {
                from: d("2026-11-09"),
                to: d("2026-11-16")
            }
        );
    }

    fn any_zone() -> impl Strategy<Value = Tz> {
        (0..chrono_tz::TZ_VARIANTS.len()).prop_map(|i| chrono_tz::TZ_VARIANTS[i])
    }

    // 1990-01-01 .. 2060-01-01 in Unix seconds.
    const FROM: i64 = 631_152_000;
    const TO: i64 = 2_840_140_800;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Consecutive days tile time: each starts where the previous ends,
        /// later, and an instant lies in exactly the bucket `local_day` names.
        #[test]
        fn days_tile_time(tz in any_zone(), secs in FROM..TO) {
            let cal = Calendar::new(tz, WeekStart::Monday);
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let day = cal.local_day(t);
            let start = cal.day_start(day);
            let next = cal.day_start(day.succ_opt().unwrap_or(day));
            prop_assert!(start <= t && t < next, "{tz} {t}: bucket {day} is [{start}, {next})");
            // The bucket is the local date, unless a fall-back repeated the
            // previous day's last hour after this day had begun.
            let local = t.with_timezone(&tz).date_naive();
            if local != day {
                prop_assert_eq!(local.succ_opt(), Some(day));
            }
            // The day's start is itself in that day, and is its first instant.
            prop_assert_eq!(cal.local_day(start), day);
            prop_assert!(cal.local_day(start - Duration::seconds(1)) < day);
        }

        /// Every period tiles with its previous one and stays within bounds.
        #[test]
        fn periods_are_contiguous(tz in any_zone(), secs in FROM..TO, sunday in any::<bool>(), p in 0usize..8) {
            let ws = if sunday { WeekStart::Sunday } else { WeekStart::Monday };
            let cal = Calendar::new(tz, ws);
            let now = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let today = cal.today(now);
            let period = [Period::Today, Period::Yesterday, Period::Day { date: today }, Period::ThisWeek,
                Period::LastWeek, Period::ThisMonth, Period::LastMonth, Period::Last28Days][p];
            let range = period.range(today, ws);
            prop_assert!(range.from < range.to);
            prop_assert!(range.days() <= 31);
            let prev = range.previous();
            prop_assert_eq!(prev.to, range.from);
            prop_assert_eq!(prev.days(), range.days());
            let (a, b) = cal.instants(range);
            prop_assert!(a < b);
            if !matches!(period, Period::LastWeek | Period::LastMonth | Period::Yesterday) {
                prop_assert!(a <= now && now < b, "{period:?} must hold now");
            } else {
                prop_assert!(b <= now);
            }
            if matches!(period, Period::ThisWeek | Period::LastWeek) {
                let first = range.from.weekday();
                let expected = if sunday { chrono::Weekday::Sun } else { chrono::Weekday::Mon };
                prop_assert_eq!(first, expected);
            }
        }

        /// Cycles start on local 1sts and hold the instant.
        #[test]
        fn cycles_start_on_local_firsts(tz in any_zone(), secs in FROM..TO) {
            let cal = Calendar::new(tz, WeekStart::Monday);
            let t = DateTime::from_timestamp(secs, 0).unwrap_or_default();
            let cycle = cal.cycle_at(t);
            prop_assert_eq!(cycle.start.day(), 1);
            prop_assert_eq!(cycle.end.day(), 1);
            let (a, b) = cal.instants(cycle.range());
            prop_assert!(a <= t && t < b);
            let days = cycle.range().days();
            prop_assert!((28..=31).contains(&days));
        }
    }
}
