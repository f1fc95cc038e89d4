//! `credits bench`, the benchmark of record: seeds `--scale` × (10 M
//! credit events, 2 M conversations, 200 workspaces), then on the largest
//! workspace times every report the dashboard makes beside the same answer
//! computed naively from the raw events (and checks they are equal), times
//! each whole tab view as its server function computes it, and loads the
//! HTTP API of a real server process. Prints a table; `--json` writes the
//! figures.

mod compare;
mod export;
mod figures;
mod http;
mod retention;
mod seed;
mod stats;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use app::domain::calendar::Period;
use app::model::UsageQuery;

use crate::state::Clock;
use crate::store::{Store, StoreError, Workspace};
use compare::{dashboard_reports, describe, groups_of};
use seed::workspace_id;
use stats::percentile;

use figures::targets_missed;
pub use figures::{
    BenchResult, ChargeFigures, FloodFigures, IngestFigures, ReportFigures, ViewFigures,
};
pub use seed::Shape;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    pub database_url: String,
    pub scale: f64,
    pub seed: u64,
    pub timezone: Tz,
    pub iterations: usize,
    pub naive_iterations: usize,
    pub http_seconds: f64,
    pub json: Option<String>,
    /// Months of raw events to keep in a retention run at the end (none: no run).
    pub retain_months: Option<u32>,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 100.0).round() / 100.0
}

/// Times `f` `n` times; sorted durations.
async fn time<F, Fut, T>(n: usize, mut f: F) -> Result<(Vec<Duration>, T), StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut times = Vec::with_capacity(n);
    let mut last = None;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        last = Some(f().await?);
        times.push(t.elapsed());
    }
    times.sort();
    Ok((times, last.ok_or(StoreError::NotFound)?))
}

/// Report periods measured: the longest preset and a short one (each
/// whole view is timed at every preset).
const REPORT_PERIODS: [(&str, Period); 2] = [
    ("last_month", Period::LastMonth),
    ("this_week", Period::ThisWeek),
];

const VIEW_PERIODS: [&str; 6] = [
    "today",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "last_28_days",
];

async fn measure_reports(
    store: &Store,
    ws: &Workspace,
    plan: &BenchPlan,
    now: DateTime<Utc>,
    periods: &[(String, Period)],
    differences: &mut Vec<String>,
) -> Result<Vec<ReportFigures>, StoreError> {
    let names = store.names(&ws.id).await?;
    let mut out = Vec::new();
    println!(
        "{:<58} {:>8} {:>8} {:>8} {:>10} {:>8}  equal",
        "report", "p50 ms", "p95 ms", "max ms", "naive p95", "speedup"
    );
    for (pname, period) in periods {
        for (name, metric, dims, filters) in dashboard_reports() {
            let query = UsageQuery {
                period: *period,
                group_by: dims,
                filters,
            };
            let (times, report) = time(plan.iterations, || {
                store.report_named(ws, metric, &query, now, &names)
            })
            .await?;
            let (naive_times, naive) = time(plan.naive_iterations, || {
                store.naive_report(ws, metric, &query, now)
            })
            .await?;
            let full = format!("{name} ({pname}){}", small_mark(ws));
            let found = describe(&full, &(report.total, groups_of(&report)), &naive);
            let equal = found.is_empty();
            differences.extend(found);
            let p95 = percentile(&times, 0.95);
            let naive_p95 = percentile(&naive_times, 0.95);
            let f = ReportFigures {
                name: full,
                p50_ms: ms(percentile(&times, 0.5)),
                p95_ms: ms(p95),
                max_ms: ms(times.last().copied().unwrap_or_default()),
                naive_p95_ms: ms(naive_p95),
                speedup: (naive_p95.as_secs_f64() / p95.as_secs_f64().max(1e-6) * 10.0).round()
                    / 10.0,
                equal,
            };
            println!(
                "{:<58} {:>8.2} {:>8.2} {:>8.2} {:>10.1} {:>7.0}x  {}",
                f.name,
                f.p50_ms,
                f.p95_ms,
                f.max_ms,
                f.naive_p95_ms,
                f.speedup,
                if equal { "yes" } else { "NO" }
            );
            out.push(f);
        }
    }
    Ok(out)
}

/// What names a figure of a workspace other than the largest.
fn small_mark(ws: &Workspace) -> String {
    if ws.keyed_rollups {
        String::new()
    } else {
        format!(" [{}, from its events]", ws.id)
    }
}

/// The last 365 days to `now`'s day in `ws`'s zone, as a custom period.
fn last_year(ws: &Workspace, now: DateTime<Utc>) -> (String, Period) {
    let to = ws.calendar().local_day(now);
    let from = to - chrono::Duration::days(364);
    (
        format!("custom&from={from}&to={to}"),
        Period::Custom { from, to },
    )
}

async fn measure_views(
    store: &Store,
    ws: &Workspace,
    plan: &BenchPlan,
    now: DateTime<Utc>,
    periods: &[String],
) -> Result<Vec<ViewFigures>, StoreError> {
    let source = crate::dashboard::store_backend(store.clone(), Clock::Fixed(now));
    let failed = |e: app::error::DashboardError| StoreError::Corrupt(format!("view failed: {e}"));
    let mut out = Vec::new();
    println!(
        "{:<14} {:<14} {:>8} {:>8} {:>8}",
        "view", "period", "p50 ms", "p95 ms", "max ms"
    );
    for period in periods {
        let params = app::query::Query::parse(&format!("period={period}"));
        for tab in ["plan", "credits", "conversations"] {
            let (times, ()) = time(plan.iterations, || async {
                match tab {
                    "plan" => source.overview(&ws.id, Some("u00")).await.map(|_| ()),
                    "credits" => source.credits_view(&ws.id, &params).await.map(|_| ()),
                    _ => source.conversations_view(&ws.id, &params).await.map(|_| ()),
                }
                .map_err(failed)
            })
            .await?;
            let f = ViewFigures {
                tab: format!("{tab}{}", small_mark(ws)),
                period: period.clone(),
                p50_ms: ms(percentile(&times, 0.5)),
                p95_ms: ms(percentile(&times, 0.95)),
                max_ms: ms(times.last().copied().unwrap_or_default()),
            };
            println!(
                "{:<14} {:<14} {:>8.2} {:>8.2} {:>8.2}",
                f.tab, f.period, f.p50_ms, f.p95_ms, f.max_ms
            );
            out.push(f);
        }
    }
    Ok(out)
}

/// A signed-in session of an admin of `ws` (a session of its own, made
/// in the database the bench's server reads) and the path of its Credits
/// page over the last 365 days: the page the flood loads.
async fn flood_page(
    store: &Store,
    ws: &Workspace,
    now: DateTime<Utc>,
) -> Result<http::Flood, StoreError> {
    let session = crate::store::Session {
        workspace_id: ws.id.clone(),
        user_id: "u00".into(),
        embedded: false,
        theme: None,
        locale: None,
    };
    let token =
        crate::signin::open_session_for(store, &session, chrono::Duration::hours(6)).await?;
    let today = ws.calendar().local_day(now);
    Ok(http::Flood {
        cookie: format!("{}={token}", crate::auth::SESSION_COOKIE),
        path: format!(
            "/usage/credits?period=custom&from={}&to={today}",
            today - chrono::Duration::days(364)
        ),
    })
}

/// Seeds, measures, prints, writes the JSON. Fails when an answer differs
/// from its naive computation.
pub async fn run(
    store: &Store,
    plan: &BenchPlan,
    now: DateTime<Utc>,
) -> Result<BenchResult, String> {
    let shape = Shape::of(plan.scale);
    let engine = match store.engine() {
        crate::store::Engine::Sqlite => "sqlite",
        crate::store::Engine::Postgres => "postgres",
    };
    println!(
        "bench on {engine}, scale {}: {} workspaces, {} credit events and {} conversations; the largest {} and {}; zone {}",
        plan.scale,
        shape.workspaces,
        shape.events(),
        shape.conversations(),
        shape.largest_events,
        shape.largest_conversations,
        plan.timezone.name()
    );
    let seeded = seed::seed(store, shape, plan.seed, plan.timezone, now)
        .await
        .map_err(|e| e.to_string())?;
    if seeded.reused {
        println!(
            "reusing the seeded workspaces of an earlier run ({})",
            seeded.largest
        );
    } else {
        let all = (shape.events() + shape.conversations()) as f64;
        println!(
            "seeded in {:.0} s ({:.0} events/s through the store)",
            seeded.seconds,
            all / seeded.seconds.max(0.001)
        );
    }
    // What the server's background task does with the past months'
    // events (PostgreSQL): the state every figure below is measured in.
    let packing = std::time::Instant::now();
    let packed_events = store
        .pack_past_months(now)
        .await
        .map_err(|e| e.to_string())?;
    let pack_seconds = packing.elapsed().as_secs_f64();
    if packed_events > 0 {
        println!("packed the past months' {packed_events} events in {pack_seconds:.0} s");
    }
    let ws = store
        .workspace(&seeded.largest)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the largest workspace is missing")?;
    let mut differences = Vec::new();
    let periods: Vec<(String, Period)> = REPORT_PERIODS
        .iter()
        .map(|(n, p)| (n.to_string(), *p))
        .collect();
    let view_periods: Vec<String> = VIEW_PERIODS.iter().map(|p| p.to_string()).collect();
    let reports = measure_reports(store, &ws, plan, now, &periods, &mut differences)
        .await
        .map_err(|e| e.to_string())?;
    let views = measure_views(store, &ws, plan, now, &view_periods)
        .await
        .map_err(|e| e.to_string())?;
    // A workspace of the other kind (about 120 events a day), whose keyed
    // questions its events answer (`store::density`), over the same
    // periods and the last 365 days: the most events such a report reads.
    let mut exports = vec![export::measure(store, &ws, now)
        .await
        .map_err(|e| e.to_string())?];
    let (small_reports, small_views) = match store
        .workspace(&workspace_id(plan.seed, 1))
        .await
        .map_err(|e| e.to_string())?
    {
        Some(small) if shape.workspaces > 1 => {
            println!(
                "a workspace of the others, {}, keyed rollups: {}",
                small.id, small.keyed_rollups
            );
            let year = last_year(&small, now);
            let mut periods = periods.clone();
            periods.push(year.clone());
            let mut view_periods = view_periods.clone();
            view_periods.push(year.0);
            let figures = (
                measure_reports(store, &small, plan, now, &periods, &mut differences)
                    .await
                    .map_err(|e| e.to_string())?,
                measure_views(store, &small, plan, now, &view_periods)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            exports.push(
                export::measure(store, &small, now)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            figures
        }
        _ => (Vec::new(), Vec::new()),
    };
    // Bytes on disk per stored event (credit events and conversations),
    // everything counted: events, indexes, rollups, totals, the WAL.
    let bytes_total = store.disk_bytes().await.map_err(|e| e.to_string())?;
    let stored = (shape.events() + shape.conversations()).max(1);
    let bytes_per_event = (bytes_total as f64 / stored as f64).round();
    println!(
        "on disk: {:.1} MB for {stored} events: {bytes_per_event:.0} bytes per event",
        bytes_total as f64 / 1e6
    );
    let bytes_by_table = store.table_bytes().await.map_err(|e| e.to_string())?;
    for (table, bytes) in bytes_by_table.iter().take(6) {
        println!(
            "  {table}: {:.1} MB, {:.0} bytes per event",
            *bytes as f64 / 1e6,
            *bytes as f64 / stored as f64
        );
    }
    let (ingest, charges, charges_spread, charges_limited, charges_flooded, rss_mb) = if plan
        .http_seconds
        > 0.0
    {
        let flood = flood_page(store, &ws, now)
            .await
            .map_err(|e| e.to_string())?;
        let h = http::run(
            &plan.database_url,
            plan.http_seconds,
            plan.timezone.name(),
            &ws.id,
            &flood,
        )
        .await?;
        println!(
            "ingest: {} events per batch, {} at once: {:.0} events/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            http::BATCH_EVENTS,
            h.batches.concurrency,
            h.batches.events_per_s,
            h.batches.p50_ms,
            h.batches.p99_ms,
            h.batches.errors
        );
        println!(
            "charges: {} at once: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            h.charges.concurrency,
            h.charges.per_s,
            h.charges.p50_ms,
            h.charges.p99_ms,
            h.charges.errors
        );
        for (what, l) in [
            (
                "charges on the largest workspace, spread over its users and campaigns",
                &h.charges_spread,
            ),
            (
                "the same under limits (a user default and campaign limits)",
                &h.charges_limited,
            ),
        ] {
            println!(
                "{what}: {} at once: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, {} errors",
                l.concurrency, l.per_s, l.p50_ms, l.p99_ms, l.errors
            );
        }
        let (f, v) = (&h.charges_flooded, &h.flood_views);
        println!(
            "charges while {} clients load year-long Credits pages: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({:.1}x idle), {} errors; pages {:.1}/s, p50 {:.0} ms, p99 {:.0} ms, {} errors",
            v.concurrency, f.per_s, f.p50_ms, f.p99_ms, f.p99_ms / h.charges.p99_ms.max(0.001), f.errors,
            v.per_s, v.p50_ms, v.p99_ms, v.errors
        );
        println!("server peak RSS: {:.0} MB", h.rss_mb);
        (
            Some(IngestFigures {
                events_per_s: h.batches.events_per_s.round(),
                p50_ms: h.batches.p50_ms,
                p99_ms: h.batches.p99_ms,
                concurrency: h.batches.concurrency,
                errors: h.batches.errors,
            }),
            Some(ChargeFigures::of(&h.charges)),
            Some(ChargeFigures::of(&h.charges_spread)),
            Some(ChargeFigures::of(&h.charges_limited)),
            Some(FloodFigures {
                per_s: f.per_s.round(),
                p50_ms: f.p50_ms,
                p99_ms: f.p99_ms,
                p99_vs_idle: ((f.p99_ms / h.charges.p99_ms.max(0.001)) * 100.0).round() / 100.0,
                errors: f.errors,
                pages_concurrency: v.concurrency,
                pages_per_s: (v.per_s * 10.0).round() / 10.0,
                pages_p50_ms: v.p50_ms,
                pages_p99_ms: v.p99_ms,
                pages_errors: v.errors,
            }),
            Some(h.rss_mb.round()),
        )
    } else {
        (None, None, None, None, None, None)
    };
    // Last, as it drops what the rest measured.
    let retention = match plan.retain_months {
        Some(months) => Some(
            retention::run(store, &ws, months, now, stored, &mut differences)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    let mut result = BenchResult {
        engine: engine.into(),
        scale: plan.scale,
        seed: plan.seed,
        timezone: plan.timezone.name().into(),
        workspaces: shape.workspaces,
        events: shape.events(),
        conversations: shape.conversations(),
        largest_workspace: seeded.largest,
        largest_events: shape.largest_events,
        seed_seconds: seeded.seconds.round(),
        packed_events,
        pack_seconds: (pack_seconds * 10.0).round() / 10.0,
        reports,
        views,
        small_reports,
        small_views,
        exports,
        ingest,
        charges,
        charges_spread,
        charges_limited,
        charges_flooded,
        rss_mb,
        bytes_total,
        bytes_per_event,
        bytes_by_table,
        retention,
        differences,
        targets_missed: Vec::new(),
    };
    // The targets are for the full data set.
    if plan.scale >= 1.0 {
        result.targets_missed = targets_missed(&result);
    }
    let worst_report = result.reports.iter().map(|r| r.p95_ms).fold(0.0, f64::max);
    let worst_view = result.views.iter().map(|r| r.p95_ms).fold(0.0, f64::max);
    let least_speedup = result
        .reports
        .iter()
        .map(|r| r.speedup)
        .fold(f64::MAX, f64::min);
    println!(
        "worst report p95 {worst_report:.2} ms, worst view p95 {worst_view:.2} ms, least speed-up {least_speedup:.0}x"
    );
    if plan.scale < 1.0 {
        println!("targets: checked at --scale 1 only");
    } else if result.targets_missed.is_empty() {
        println!("targets: all met");
    } else {
        println!("targets missed ({}):", result.targets_missed.len());
        for m in &result.targets_missed {
            println!("  {m}");
        }
    }
    if let Some(path) = &plan.json {
        let text = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
        println!("wrote {path}");
    }
    if !result.differences.is_empty() {
        for d in &result.differences {
            eprintln!("DIFFERENCE {d}");
        }
        return Err(format!(
            "{} answers differ from their naive computation",
            result.differences.len()
        ));
    }
    Ok(result)
}
