//! Serving with limits: a header-read timeout (slow-header clients are cut),
//! a request timeout and a body-read timeout, a cap on requests in flight
//! (the API and the pages each have their own, so that a flood of page
//! requests never starves the platform's calls) answered `503` at once
//! beyond it, and a deadline on graceful shutdown.

use std::future::Future;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::{BoxError, ServiceBuilder};

/// An in-flight cap that never binds.
pub const UNCAPPED: usize = 1 << 24;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers.
    pub header_read: Duration,
    /// Time a request has to be read and start being answered (a streamed
    /// CSV may then stream for longer).
    pub request: Duration,
    /// Requests in flight per part (API, pages) before `503`.
    pub in_flight: usize,
    /// Time open requests get to finish at shutdown.
    pub shutdown: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            in_flight: 256,
            shutdown: Duration::from_secs(20),
        }
    }
}

/// The cap and timeouts as layers over one part of the app; `busy` and
/// `late` answer in that part's own error shape.
pub fn limited<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    limits: Limits,
    busy: fn() -> Response,
    late: fn() -> Response,
) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(move |e: BoxError| async move {
                if e.is::<tower::load_shed::error::Overloaded>() {
                    busy()
                } else if e.is::<tower::timeout::error::Elapsed>() {
                    late()
                } else {
                    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
                }
            }))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(limits.in_flight))
            // Until the response starts: this covers reading the body too
            // (handlers read it first), so a slow-body client is cut with a
            // clean 503 rather than an error from inside the handler.
            .layer(tower::timeout::TimeoutLayer::new(limits.request)),
    )
}

/// Serves `app` until `shutdown` resolves, then lets open requests finish
/// for at most `limits.shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: pause, do not spin.
                        tracing::warn!(cause = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(app.clone());
                let conn = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.shutdown) => {
            tracing::warn!("shutdown deadline passed with requests still open");
        }
    }
}
