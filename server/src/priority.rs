//! The platform API first: the dashboard's pages run on a runtime of their
//! own whose threads have a lower CPU priority (nice 10), so that however
//! many pages load at once, the platform's charges and batches get the
//! processor when they need it.
//!
//! A page's work (its session, its reports, rendering its HTML) is spawned
//! on that runtime; SQLite's connection threads of the pages' pool are
//! started from it and inherit its priority. With the pages' own pool
//! (`Store::for_pages`), this is what keeps the charges' p99 within 2x of
//! its idle value under a flood of 256 year-long Credits pages
//! (docs/performance.md, "The API under a flood of pages").
//!
//! `credits serve` turns it on ([`enable`]); an app made without it (the
//! in-process tests) runs its pages on the caller's runtime.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The pages' runtime, once enabled.
static PAGES: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The niceness of the pages' threads (0 is the default, 19 the lowest).
pub const PAGE_NICENESS: i32 = 19;

/// Starts the pages' runtime (`threads` workers at [`PAGE_NICENESS`]);
/// pages of every app made afterwards run on it. Idempotent.
pub fn enable(threads: usize) -> std::io::Result<()> {
    if PAGES.get().is_some() {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("credits-pages")
        .on_thread_start(lower_this_threads_priority)
        .enable_all()
        .build()?;
    if let Err(runtime) = PAGES.set(runtime) {
        // Another caller won the race: this one is not needed.
        runtime.shutdown_background();
    }
    Ok(())
}

/// Whether pages run on their own runtime.
pub fn enabled() -> bool {
    PAGES.get().is_some()
}

/// Lowers the calling thread's CPU priority (on Linux niceness is per
/// thread, and the threads it starts inherit it). Best effort: where it
/// fails, the thread keeps the default priority.
fn lower_this_threads_priority() {
    if let Err(e) = rustix::process::setpriority_process(None, PAGE_NICENESS) {
        tracing::warn!("the pages' threads keep the default priority: {e}");
    }
}

/// Pages worked on at once, per process, when the pages' runtime is on;
/// the others wait their turn (within the request's deadline) holding
/// nothing but their request. Two pages per connection of the pages'
/// pool on SQLite (four on PostgreSQL's one): enough to keep it busy, few
/// enough that a flood of 256 year-long Credits pages does not hold 256
/// half-built pages in memory (without it the server's peak RSS went from
/// 54 MB to 175 MB under that flood, SQLite, `--scale 1`), and that a page
/// admitted here waits for a connection seconds, not tens of seconds.
pub const PAGES_AT_ONCE: usize = 4;

static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PAGES_AT_ONCE);

/// Middleware: runs the rest of the request on the pages' runtime, once a
/// place among [`PAGES_AT_ONCE`] is free, when that runtime is enabled;
/// else where it is.
pub async fn on_page_runtime(req: Request, next: Next) -> Response {
    let Some(runtime) = PAGES.get() else {
        return next.run(req).await;
    };
    let Ok(_slot) = SLOTS.acquire().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    runtime
        .spawn(next.run(req))
        .await
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The platform API's requests being answered ([`count_api`]).
static API_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// One API request in flight, for as long as it lives (a request dropped
/// midway counts down too).
struct InFlight;

impl Drop for InFlight {
    fn drop(&mut self) {
        API_IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Middleware on the platform API's routes: counts its requests in flight,
/// to which the pages' statements on PostgreSQL yield ([`yield_to_api`]).
pub async fn count_api(req: Request, next: Next) -> Response {
    API_IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
    let _in_flight = InFlight;
    next.run(req).await
}

/// The longest a page's statement waits for the API, by default. Measured
/// on PostgreSQL, `--scale 0.1`, the charges' p99 under a flood of 256
/// year-long Credits pages: 2.2–2.7× idle without waiting, 2.2–2.3× at
/// 20 ms, 2.2× at 60 ms, 1.2–1.5× at 150 ms, 1.5× at 300 ms; pages 2.4–3.9
/// a second throughout (docs/performance.md).
pub const YIELD_AT_MOST: Duration = Duration::from_millis(150);

/// [`YIELD_AT_MOST`], or `CREDITS_PAGES_YIELD_MS` (0 to 1,000) where set.
fn yield_at_most() -> Duration {
    static AT_MOST: OnceLock<Duration> = OnceLock::new();
    *AT_MOST.get_or_init(|| {
        std::env::var("CREDITS_PAGES_YIELD_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms <= 1_000)
            .map_or(YIELD_AT_MOST, Duration::from_millis)
    })
}

/// Before each statement of the pages on PostgreSQL (their pool's
/// `before_acquire`), when the pages' runtime is on: while the platform
/// API has requests in flight, waits for a pause in them, at most
/// [`YIELD_AT_MOST`] (`CREDITS_PAGES_YIELD_MS`). PostgreSQL runs the pages' statements in its own
/// processes at the charges' priority, which no niceness of ours reaches;
/// spacing them out while charges and batches are being answered is the
/// priority this process can give the API there (docs/performance.md,
/// "The API under a flood of pages"). Pages still progress: a statement
/// waits 150 ms at most, however busy the API.
pub async fn yield_to_api() {
    if !enabled() {
        return;
    }
    let until = Instant::now() + yield_at_most();
    while API_IN_FLIGHT.load(Ordering::Relaxed) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
