//! The dashboard's routes: its pages (Leptos SSR, rendered whole before
//! they are sent), the server functions (`/rpc/…`), the CSV export, the
//! sign-in routes, assets and the site's static files.

use std::sync::Arc;

use app::model::Metric;
use app::query::Query;
use app::rpc::ssr::{CurrentUser, CurrentWorkspace, PageSession, Source};
use app::ui::nav::{Base, Tab};
use app::{shell, ShellOptions};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::LeptosRoutes;

use super::backend::StoreBackend;
use crate::signin;
use crate::state::AppState;
use crate::store::Session;
use crate::stylesheet;

/// `/usage/credits.csv`: the Credits tab's current view as CSV (the same
/// export as the API's `credit-usage.csv`, with the page's parameters).
async fn credits_csv(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::Extension(session): axum::Extension<Session>,
    uri: axum::http::Uri,
) -> Response {
    let query = Query::parse(uri.query().unwrap_or_default());
    let result = async {
        let Some(ws) = state.store.workspace(&session.workspace_id).await? else {
            return Ok((StatusCode::NOT_FOUND, "This workspace is gone.").into_response());
        };
        let names = state.store.names(&ws.id).await?;
        let (query, _notes) = super::tabs::page_query(Metric::Credits, &query, &names);
        crate::export::credit_usage(&state.store, ws, query, state.now()).await
    }
    .await;
    result.unwrap_or_else(|e| {
        // A range that starts before the retention horizon: said plainly.
        if let (crate::store::StoreError::Invalid { .. }, Some(h)) =
            (&e, state.store.horizon(state.now()))
        {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "This export lists each event, and events before {} are no longer kept: choose a later start.",
                    h.format("%Y-%m-%d %H:%M UTC")
                ),
            )
                .into_response();
        }
        tracing::error!(cause = %e, "csv export failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "1")],
            "The export is unavailable; try again in a moment.",
        )
            .into_response()
    })
}

/// Provides the request's session to the app and its server functions.
fn provide_session() {
    let Some(parts) = use_context::<axum::http::request::Parts>() else {
        return;
    };
    if let Some(s) = parts.extensions.get::<Session>() {
        provide_context(CurrentWorkspace(s.workspace_id.clone()));
        provide_context(CurrentUser(s.user_id.clone()));
        let token = parts
            .extensions
            .get::<signin::SessionToken>()
            .map(|t| t.0.clone());
        provide_context(PageSession {
            embedded: s.embedded,
            theme: s.theme.clone(),
            // Embedded pages carry their session for browsers that block third-party cookies.
            token: if s.embedded { token } else { None },
            bootstrap_path: parts
                .extensions
                .get::<signin::Bootstrap>()
                .map(|b| b.0.clone()),
            locale: s.locale.clone(),
        });
    }
}

/// Pages, server functions (`/rpc/…`), sign-in routes, assets and the site's static files.
pub fn router(state: AppState) -> Router<AppState> {
    let source = Source(Arc::new(StoreBackend {
        store: state.store.clone(),
        clock: state.clock,
        contact: state.contact.clone(),
        embed_secret: state.embed_secret.clone(),
        webhook: state.webhook,
    }));
    let contact = state.contact.clone();
    let context = move || {
        provide_context(source.clone());
        provide_context(contact.clone());
        provide_session();
    };
    let options = ShellOptions {
        leptos: state.leptos.clone(),
        hydrate: state.hydrate,
        echarts_src: state.echarts_src.to_string(),
        stylesheet_href: stylesheet::HREF.clone(),
    };
    let hydrate = state.hydrate;
    let echarts_src = state.echarts_src.to_string();
    // The built bundle: brotli or gzip copies made at build time, chosen by
    // Accept-Encoding; content-hashed names are cached for a year.
    let pkg = tower_http::services::ServeDir::new(
        std::path::Path::new(state.leptos.site_root.as_ref())
            .join(state.leptos.site_pkg_dir.as_ref()),
    )
    .precompressed_br()
    .precompressed_gzip();
    let app_fn = {
        let options = options.clone();
        move || shell(options.clone())
    };
    // `/embed?token=…` renders the app in the same response that opens the
    // session, so that it works where the frame cannot keep a cookie.
    // Every page is rendered whole before it is sent (its figures are in
    // the HTML), by the app's own router (`app::ui::location`).
    let render = leptos_axum::render_app_async_with_context(context.clone(), app_fn.clone());
    let mut pages = Router::new();
    for tab in [Tab::Plan, Tab::Credits, Tab::Conversations] {
        for base in [Base::Standalone, Base::Embedded] {
            pages = pages.route(base.path(tab), get(render.clone()));
        }
    }
    pages
        .route("/", get(|| async { Redirect::to("/usage/plan") }))
        .route("/usage", get(|| async { Redirect::to("/usage/plan") }))
        .route(
            "/embed/usage",
            get(|| async { Redirect::to("/embed/usage/plan") }),
        )
        .route(
            "/embed",
            get(move |state, query, req| signin::embed_entry(state, query, req, render.clone())),
        )
        .route(
            "/auth/handoff",
            get(crate::handoff::handoff).post(crate::handoff::confirmed),
        )
        .route("/auth/logout", axum::routing::post(signin::logout))
        .route("/demo", get(signin::demo_page).post(signin::demo_sign_in))
        .route(stylesheet::ROUTE, get(stylesheet::serve))
        .nest_service("/pkg", pkg)
        .route("/usage/credits.csv", get(credits_csv))
        .route("/embed/usage/credits.csv", get(credits_csv))
        // With no page listings, this registers the server functions only.
        .leptos_routes_with_context(&state, Vec::new(), context.clone(), app_fn)
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, move |leptos| {
            shell(ShellOptions {
                leptos,
                hydrate,
                echarts_src: echarts_src.clone(),
                stylesheet_href: stylesheet::HREF.clone(),
            })
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            signin::session_layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state,
            signin::same_origin_posts,
        ))
}
