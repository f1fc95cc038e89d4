//! The bench's export figure: a workspace's per-event CSV over the last
//! 365 days, walked page by page as `export.rs` walks it (the store's
//! pages alone, without the CSV's text), timed.

use std::time::Instant;

use app::domain::calendar::Period;
use app::model::{Filters, UsageQuery};
use chrono::{DateTime, Utc};

use super::figures::ExportFigures;
use crate::store::{Store, StoreError, Workspace};

/// Walks the pages of workspace `ws`'s credit events over the 365 days to
/// `now`'s day.
pub async fn measure(
    store: &Store,
    ws: &Workspace,
    now: DateTime<Utc>,
) -> Result<ExportFigures, StoreError> {
    let to = ws.calendar().local_day(now);
    let from = to - chrono::Duration::days(364);
    let period = Period::Custom { from, to };
    let range = period.range(to, ws.week_start);
    let query = UsageQuery {
        period,
        group_by: Vec::new(),
        filters: Filters::default(),
    };
    let started = Instant::now();
    let (mut events, mut pages, mut slowest) = (0u64, 0u64, 0f64);
    let mut after = None;
    loop {
        let page_started = Instant::now();
        let page = store
            .credit_events_page(ws, range, &query, after.clone(), crate::export::PAGE)
            .await?;
        slowest = slowest.max(page_started.elapsed().as_secs_f64() * 1e3);
        pages += 1;
        events += page.len() as u64;
        match page.last() {
            Some(last) if page.len() as i64 == crate::export::PAGE => {
                after = Some((last.occurred_at.timestamp_millis(), last.id.clone()));
            }
            _ => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let figures = ExportFigures {
        workspace: ws.id.clone(),
        events,
        pages,
        seconds: (seconds * 100.0).round() / 100.0,
        events_per_s: (events as f64 / seconds.max(1e-9)).round(),
        max_page_ms: (slowest * 100.0).round() / 100.0,
    };
    println!(
        "per-event export of {}'s last 365 days: {events} events in {pages} pages, {seconds:.2} s ({:.0} events/s), slowest page {slowest:.1} ms",
        ws.id, figures.events_per_s
    );
    Ok(figures)
}
