//! The whole HTTP app: health checks, the API and the pages, each behind
//! its own cap on requests in flight, with request ids, compression,
//! security headers and logs.

use axum::Router;

use crate::state::AppState;
use crate::{api, dashboard, security, serve};

/// The whole HTTP app, with no cap on requests in flight (embedding and
/// in-process tests; `credits serve` applies its configured cap).
pub fn app(state: AppState) -> Router {
    app_with_limits(
        state,
        serve::Limits {
            in_flight: serve::UNCAPPED,
            ..Default::default()
        },
    )
}

fn busy_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::telemetry::refused("pages", "busy");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        [("retry-after", "1")],
        "The dashboard is busy; try again in a moment.",
    )
        .into_response()
}

fn late_page() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::telemetry::refused("pages", "late");
    (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "The dashboard took too long to answer; try again in a moment.",
    )
        .into_response()
}

fn busy_api() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::telemetry::refused("api", "busy");
    api::error::ApiError::Unavailable.into_response()
}

fn late_api() -> axum::response::Response {
    use axum::response::IntoResponse;
    crate::telemetry::refused("api", "late");
    api::error::ApiError::Timeout.into_response()
}

/// `GET /healthz`: the process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the database before it says not ready.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// How long an answer of `/readyz` is given again: a flood of probes costs
/// one check of the database a second, whatever its size.
const READY_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// The last answer of `/readyz` and when it was checked; one check at a
/// time (the others wait for it and take its answer).
type Readiness = std::sync::Arc<tokio::sync::Mutex<Option<(std::time::Instant, bool)>>>;

/// `GET /readyz`: the database answers within [`READY_WITHIN`] and every
/// migration is applied; checked at most once per [`READY_FOR`].
async fn readyz(state: AppState, readiness: Readiness) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut last = readiness.lock().await;
    let ready = match *last {
        Some((at, ready)) if at.elapsed() < READY_FOR => ready,
        _ => {
            let ready = match tokio::time::timeout(READY_WITHIN, state.store.ready()).await {
                Ok(Ok(())) => true,
                Ok(Err(e)) => {
                    tracing::warn!(cause = %e, "not ready");
                    false
                }
                Err(_) => {
                    tracing::warn!("not ready: the database did not answer in 2 s");
                    false
                }
            };
            *last = Some((std::time::Instant::now(), ready));
            ready
        }
    };
    if ready {
        "ready".into_response()
    } else {
        (axum::http::StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// The whole HTTP app: the API and the pages each behind their own cap on
/// requests in flight, request ids, compression, security headers, logs.
pub fn app_with_limits(state: AppState, limits: serve::Limits) -> Router {
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    let api = serve::limited(
        api::router(state.clone())
            .layer(axum::middleware::from_fn(crate::telemetry::track))
            .layer(axum::middleware::from_fn(crate::priority::count_api)),
        limits,
        busy_api,
        late_api,
    );
    // The pages run on a pool of their own (a flood of them queues for its
    // connections, and the platform's charges never wait behind it) and,
    // in `credits serve`, on threads of a lower priority (`priority`).
    let page_state = AppState {
        store: state.store.for_pages(),
        ..state.clone()
    };
    let pages = serve::limited(
        dashboard::router(page_state.clone())
            .with_state::<AppState>(page_state)
            .layer(axum::middleware::from_fn(crate::priority::on_page_runtime))
            .layer(axum::middleware::from_fn(crate::telemetry::track)),
        limits,
        busy_page,
        late_page,
    );
    Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route(
            "/readyz",
            axum::routing::get({
                let readiness = Readiness::default();
                move |axum::extract::State(state): axum::extract::State<AppState>| {
                    readyz(state, readiness.clone())
                }
            }),
        )
        .nest("/api/v1", api)
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<_>| {
                    let id = req
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_response(
                    |res: &axum::http::Response<_>, latency: std::time::Duration, _span: &tracing::Span| {
                        tracing::info!(status = res.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "response");
                    },
                ),
        )
        // Outermost: every response carries the request's id (the caller's, if sent).
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}
