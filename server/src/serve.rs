//! Serving with limits: HTTP/1.1 only (HTTP/2 is not offered: no TLS, no
//! prior knowledge), a deadline for a connection's first bytes and for a
//! request's headers (a silent connection, one that sent only an HTTP/2
//! preface or half a header, is closed), a cap on open connections (new
//! ones past it get a `503` and are closed), a request timeout and a
//! body-read timeout, a cap on requests in flight (the API and the pages
//! each have their own, so that a flood of page requests never starves the
//! platform's calls) answered `503` at once beyond it, and a deadline on
//! graceful shutdown.

use std::future::Future;
use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
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
    /// Open connections at once; past it a new one gets `503` and is closed.
    pub connections: usize,
    /// Time a request body may go without sending a byte (a body that
    /// keeps trickling is cut at [`Limits::request`]).
    pub body_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            in_flight: 256,
            shutdown: Duration::from_secs(20),
            connections: 1_024,
            body_idle: Duration::from_secs(5),
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
            .layer(tower::timeout::TimeoutLayer::new(limits.request))
            // A body that stops sending fails its read after `body_idle`,
            // answered as a body that could not be read.
            .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                limits.body_idle,
            ))
            .layer(tower_http::map_request_body::MapRequestBodyLayer::new(
                axum::body::Body::new,
            )),
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
    // HTTP/1.1 alone: hyper's auto-detection reads a connection's first
    // bytes (an HTTP/2 preface) with no deadline.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    let builder = std::sync::Arc::new(builder);
    let open = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: pause, do not spin.
                        tracing::warn!(cause = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = open.clone().try_acquire_owned() else {
                    tokio::spawn(refuse(stream));
                    continue;
                };
                // The peer, for the trusted proxies' X-Forwarded-Proto.
                let service = TowerToHyperService::new(tower::ServiceExt::map_request(
                    app.clone(),
                    move |mut req: axum::http::Request<hyper::body::Incoming>| {
                        req.extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        req
                    },
                ));
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let first_bytes = limits.header_read;
                let open_now = OpenConnection::new();
                tokio::spawn(async move {
                    let _open = open_now;
                    // Nothing sent in time: closed before hyper reads it.
                    let mut byte = [0u8; 1];
                    match tokio::time::timeout(first_bytes, stream.peek(&mut byte)).await {
                        Ok(Ok(n)) if n > 0 => {}
                        _ => return,
                    }
                    // No upgrades: the app serves no WebSocket.
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn).await;
                    drop(permit);
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

/// An open connection, counted in `credits_connections_open` while it lives.
struct OpenConnection;

impl OpenConnection {
    fn new() -> Self {
        metrics::gauge!("credits_connections_open").increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("credits_connections_open").decrement(1.0);
    }
}

/// A connection past the cap: a plain `503` with `Retry-After`, then closed.
async fn refuse(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    metrics::counter!("credits_connections_refused_total").increment(1);
    tracing::warn!("open connections at their cap: refused");
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
    )
    .await;
    let _ = stream.shutdown().await;
}
