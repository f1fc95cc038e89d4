//! The bench's retention run (`--retain-months N`): every report the
//! dashboard makes, and the shapes that read the events, over each month
//! of the seeded year and the whole of it, answered before and after the
//! events past the horizon are dropped, compared answer by answer; the
//! drop timed; `credits verify`'s recomputation run after it.

use std::time::Instant;

use app::domain::calendar::Period;
use app::model::{Dimension, Filters, Metric, UsageQuery};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::compare::{dashboard_reports, describe, groups_of};
use super::figures::RetentionFigures;
use crate::store::{horizon_of, Groups, Store, StoreError, Workspace};

/// The reports compared: the dashboard's, and those that read the events
/// (user with identity), whose dropped events count through their sums.
fn compared() -> Vec<(String, Metric, Vec<Dimension>, Filters)> {
    use Dimension::*;
    let mut list = dashboard_reports();
    let both = || Filters {
        user_id: Some("u00".into()),
        identity_id: Some("i00".into()),
        ..Filters::default()
    };
    for (name, metric, dims, filters) in [
        (
            "credits by user,identity",
            Metric::Credits,
            vec![User, Identity],
            Filters::default(),
        ),
        (
            "credits by day for a user and identity",
            Metric::Credits,
            vec![Day],
            both(),
        ),
        (
            "conversations by user,identity",
            Metric::Conversations,
            vec![User, Identity],
            Filters::default(),
        ),
    ] {
        list.push((name.to_string(), metric, dims, filters));
    }
    list
}

/// The periods compared: each month of the seeded year (local days) and
/// the longest custom range ending yesterday.
fn periods(today: NaiveDate) -> Vec<(String, Period)> {
    let mut out = vec![(
        "the year".to_string(),
        Period::Custom {
            from: today - Duration::days(365),
            to: today - Duration::days(1),
        },
    )];
    let mut first = NaiveDate::from_ymd_opt(today.year() - 1, today.month(), 1).unwrap_or(today);
    while first < today {
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(today);
        let to = (next - Duration::days(1)).min(today);
        out.push((
            first.format("%Y-%m").to_string(),
            Period::Custom { from: first, to },
        ));
        first = next;
    }
    out
}

async fn answers(
    store: &Store,
    ws: &Workspace,
    now: DateTime<Utc>,
) -> Result<Vec<(String, (i64, Groups))>, StoreError> {
    let names = store.names(&ws.id).await?;
    let today = ws.calendar().today(now);
    let mut out = Vec::new();
    for (pname, period) in periods(today) {
        for (name, metric, dims, filters) in compared() {
            let query = UsageQuery {
                period,
                group_by: dims,
                filters,
            };
            let r = store.report_named(ws, metric, &query, now, &names).await?;
            out.push((format!("{name} ({pname})"), (r.total, groups_of(&r))));
        }
    }
    Ok(out)
}

/// Drops what is past `months` at `now` and checks that nothing answered
/// before changed; what differs goes to `differences`.
pub(super) async fn run(
    store: &Store,
    ws: &Workspace,
    months: u32,
    now: DateTime<Utc>,
    stored: u64,
    differences: &mut Vec<String>,
) -> Result<RetentionFigures, StoreError> {
    let before = answers(store, ws, now).await?;
    let kept_before = store.count_events(&ws.id).await?;
    store.set_retention(Some(months)).await?;
    let started = Instant::now();
    let dropped = store.drop_expired(now).await?;
    let seconds = started.elapsed().as_secs_f64();
    let after = answers(store, ws, now).await?;
    for ((name, was), (_, is)) in before.iter().zip(&after) {
        differences.extend(describe(&format!("retention: {name}"), is, was));
    }
    let started = Instant::now();
    let check = store.check_ledger().await?;
    let verify_seconds = started.elapsed().as_secs_f64();
    if !check.consistent() {
        differences.push(format!("retention: credits verify found {check:?}"));
    }
    let bytes_total = store.disk_bytes().await?;
    let bytes_by_table = store.table_bytes().await?;
    let kept = stored.saturating_sub(dropped).max(1);
    let figures = RetentionFigures {
        months,
        horizon: horizon_of(now - Duration::days(1), months).to_rfc3339(),
        dropped_events: dropped,
        largest_dropped: u64::try_from(kept_before - store.count_events(&ws.id).await?)
            .unwrap_or(0),
        seconds: (seconds * 10.0).round() / 10.0,
        events_per_s: (dropped as f64 / seconds.max(0.001)).round(),
        reports_compared: before.len(),
        verify_seconds: (verify_seconds * 10.0).round() / 10.0,
        bytes_total_after: bytes_total,
        bytes_per_kept_event: (bytes_total as f64 / kept as f64).round(),
        bytes_by_table_after: bytes_by_table,
    };
    println!(
        "retention of {months} months (horizon {}): dropped {} events ({} of the largest workspace) in {:.1} s ({:.0}/s); {} answers compared, {}; verify {:.1} s; {:.1} MB on disk after, {:.0} bytes per event kept",
        figures.horizon,
        figures.dropped_events,
        figures.largest_dropped,
        figures.seconds,
        figures.events_per_s,
        figures.reports_compared,
        if differences.iter().any(|d| d.starts_with("retention")) { "some DIFFER" } else { "all equal" },
        figures.verify_seconds,
        bytes_total as f64 / 1e6,
        figures.bytes_per_kept_event
    );
    for (table, bytes) in figures.bytes_by_table_after.iter().take(5) {
        println!("  after: {table}: {:.1} MB", *bytes as f64 / 1e6);
    }
    Ok(figures)
}
