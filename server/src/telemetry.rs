//! What operators can see: Prometheus metrics, recorded with the `metrics`
//! crate and rendered by `metrics-exporter-prometheus` at `GET /metrics`,
//! which `credits serve` opens only with `--metrics-token` and answers
//! only with that token as a bearer (docs/operations.md, "Metrics").
//!
//! Recorded where they happen: requests by route, method and status with
//! their latencies and those in flight ([`track`]); requests and
//! connections refused at the caps; charges by outcome and events ingested
//! (the API's handlers); database errors that answered `503`; the write
//! path's waits for SQLite's turn and for a connection; the outbox's
//! deliveries; SQLite's checkpoints and the migrations. Read at each
//! scrape: the pools' connections in use and idle, and the outbox's
//! backlog. Without an installed recorder (tests, other commands) the
//! macros cost nothing.

use std::sync::OnceLock;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Buckets of every `*_seconds` histogram: 1 ms to 30 s.
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Installs the process's recorder (once; later calls return the same
/// handle).
pub fn install() -> Result<&'static PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    describe();
    Ok(HANDLE.get_or_init(|| handle))
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "credits_http_requests_total",
        "Requests answered, by route, method and status."
    );
    describe_histogram!(
        "credits_http_request_duration_seconds",
        Unit::Seconds,
        "Time to the response's head, by route, method and status."
    );
    describe_gauge!(
        "credits_http_in_flight",
        "Requests being answered, by surface (api, pages)."
    );
    describe_counter!("credits_http_refused_total", "Requests answered 503 by a cap: busy (in flight at the cap) or late (past the deadline), by surface.");
    describe_counter!(
        "credits_connections_refused_total",
        "Connections refused at --max-connections."
    );
    describe_gauge!("credits_connections_open", "Open client connections.");
    describe_gauge!(
        "credits_db_connections",
        "Database connections by pool (api, pages) and state (busy, idle)."
    );
    describe_histogram!("credits_db_write_wait_seconds", Unit::Seconds, "A write's wait before its statements: phase turn (SQLite's writers' turn) and begin (a connection and BEGIN).");
    describe_counter!(
        "credits_db_unavailable_total",
        "Requests answered 503 because the database could not be reached or was full."
    );
    describe_gauge!(
        "credits_outbox_backlog",
        "Webhook deliveries not yet delivered."
    );
    describe_counter!(
        "credits_outbox_deliveries_total",
        "Webhook delivery attempts by outcome (delivered, failed)."
    );
    describe_counter!("credits_charges_total", "Charges answered, by outcome (created, duplicate, insufficient_credits, limit_reached, conflict, invalid, unavailable, error).");
    describe_counter!(
        "credits_events_ingested_total",
        "Usage events by result (inserted, duplicate)."
    );
    describe_histogram!(
        "credits_sqlite_checkpoint_seconds",
        Unit::Seconds,
        "SQLite's background checkpoints."
    );
    describe_gauge!(
        "credits_migrations_seconds",
        "How long this process's migrations took at start."
    );
}

/// Records each request: counted by route (the route's pattern, never the
/// raw path), method and status, timed to its response's head, and held
/// in the in-flight gauge meanwhile.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let surface = if route.starts_with("/api/") {
        "api"
    } else {
        "pages"
    };
    let method = req.method().as_str().to_string();
    let in_flight = metrics::gauge!("credits_http_in_flight", "surface" => surface);
    in_flight.increment(1.0);
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    in_flight.decrement(1.0);
    let status = res.status().as_u16().to_string();
    let labels = [("route", route), ("method", method), ("status", status)];
    metrics::counter!("credits_http_requests_total", &labels).increment(1);
    metrics::histogram!("credits_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    res
}

/// A request refused by a cap (`busy`, `late`) on a surface.
pub fn refused(surface: &'static str, reason: &'static str) {
    metrics::counter!("credits_http_refused_total", "surface" => surface, "reason" => reason)
        .increment(1);
}

/// `GET /metrics`: the text format, for a bearer of the metrics token.
pub async fn scrape(
    State((store, token)): State<(Store, std::sync::Arc<str>)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        given.as_bytes(),
        token.as_bytes(),
    )) {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            [("www-authenticate", "Bearer")],
            "a bearer token is needed",
        )
            .into_response();
    }
    let Some(handle) = HANDLE.get() else {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    };
    for (pool, size, idle) in store.pool_use() {
        metrics::gauge!("credits_db_connections", "pool" => pool, "state" => "idle")
            .set(idle as f64);
        metrics::gauge!("credits_db_connections", "pool" => pool, "state" => "busy")
            .set((size as usize).saturating_sub(idle) as f64);
    }
    // The backlog is read within a second, or left at its last value.
    if let Ok(Ok(backlog)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), store.outbox_backlog()).await
    {
        metrics::gauge!("credits_outbox_backlog").set(backlog as f64);
    }
    handle.run_upkeep();
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response()
}
