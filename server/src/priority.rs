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

use std::sync::OnceLock;

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
/// nothing but their request. Four times the pages' pool: enough to keep
/// it busy, few enough that a flood of 256 year-long Credits pages does
/// not hold 256 half-built pages in memory (without it the server's peak
/// RSS went from 54 MB to 175 MB under that flood, SQLite, `--scale 1`).
pub const PAGES_AT_ONCE: usize = 8;

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
