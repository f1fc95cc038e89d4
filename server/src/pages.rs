//! The dashboard's pages: Leptos SSR routes, server functions and assets.

use std::sync::Arc;

use app::model::{
    ContactLinks, ConversationsView, CreditsView, Intent, Metric, Overview, Report, SupportRequest,
    UsageQuery,
};
use app::rpc::ssr::{CurrentWorkspace, Source, UsageSource};
use app::{shell, App, ShellOptions};
use axum::http::header;
use axum::response::{IntoResponse, Redirect};
use axum::routing::get;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list_with_exclusions, LeptosRoutes};

use crate::store::Store;
use crate::{AppState, Clock};

/// The stylesheet, compiled into the binary so pages are styled even where
/// the WASM bundle was not built.
const STYLESHEET: &str = include_str!("../../style/main.css");

/// The store as the server functions' data source.
struct StoreSource {
    store: Store,
    clock: Clock,
    default_workspace: Option<String>,
    contact: ContactLinks,
}

impl StoreSource {
    async fn resolve(&self, ws: &str) -> Result<String, String> {
        if !ws.is_empty() {
            return Ok(ws.to_string());
        }
        if let Some(ws) = &self.default_workspace {
            return Ok(ws.clone());
        }
        match self.store.first_workspace_id().await {
            Ok(Some(ws)) => Ok(ws),
            Ok(None) => {
                Err("no workspace yet: start with --demo or register one through the API".into())
            }
            Err(e) => {
                tracing::error!(cause = %e, "workspace lookup failed");
                Err("the database is unavailable".into())
            }
        }
    }
}

fn public(e: crate::store::StoreError) -> String {
    match e {
        crate::store::StoreError::NotFound => "workspace not found".into(),
        other => {
            tracing::error!(cause = %other, "dashboard query failed");
            "the database is unavailable".into()
        }
    }
}

#[async_trait::async_trait]
impl UsageSource for StoreSource {
    async fn credits_view(
        &self,
        workspace_id: &str,
        params: &[(String, String)],
    ) -> Result<CreditsView, String> {
        let ws_id = self.resolve(workspace_id).await?;
        let ws = self
            .store
            .workspace(&ws_id)
            .await
            .map_err(public)?
            .ok_or("workspace not found")?;
        crate::views::credits_view(&self.store, &ws, params, self.clock.now())
            .await
            .map_err(public)
    }

    async fn conversations_view(
        &self,
        workspace_id: &str,
        params: &[(String, String)],
    ) -> Result<ConversationsView, String> {
        let ws_id = self.resolve(workspace_id).await?;
        let ws = self
            .store
            .workspace(&ws_id)
            .await
            .map_err(public)?
            .ok_or("workspace not found")?;
        crate::views::conversations_view(&self.store, &ws, params, self.clock.now())
            .await
            .map_err(public)
    }

    async fn send_request(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        intent: Intent,
        message: &str,
    ) -> Result<SupportRequest, String> {
        let ws_id = self.resolve(workspace_id).await?;
        let ws = self
            .store
            .workspace(&ws_id)
            .await
            .map_err(public)?
            .ok_or("workspace not found")?;
        self.store
            .create_support_request(&ws, user_id, intent, message, self.clock.now())
            .await
            .map_err(public)
    }

    async fn overview(&self, workspace_id: &str) -> Result<Overview, String> {
        let ws = self.resolve(workspace_id).await?;
        self.store
            .overview(&ws, self.clock.now(), self.contact.clone())
            .await
            .map_err(public)
    }

    async fn report(
        &self,
        workspace_id: &str,
        metric: Metric,
        query: &UsageQuery,
    ) -> Result<Report, String> {
        let ws_id = self.resolve(workspace_id).await?;
        let ws = self
            .store
            .workspace(&ws_id)
            .await
            .map_err(public)?
            .ok_or("workspace not found")?;
        self.store
            .report(&ws, metric, query, self.clock.now())
            .await
            .map_err(public)
    }
}

/// `/usage/credits.csv`: the Credits tab's current view as CSV (the same
/// export as the API's `credit-usage.csv`, with the page's parameters).
async fn credits_csv(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::Query(params): axum::extract::Query<Vec<(String, String)>>,
) -> axum::response::Response {
    let source = StoreSource {
        store: state.store.clone(),
        clock: state.clock,
        default_workspace: state.dashboard_workspace.clone(),
        contact: state.contact.clone(),
    };
    let result = async {
        let ws_id = source
            .resolve("")
            .await
            .map_err(|_| crate::api::error::ApiError::NotFound)?;
        let ws = state
            .store
            .workspace(&ws_id)
            .await?
            .ok_or(crate::api::error::ApiError::NotFound)?;
        let known = state.store.known_ids(&ws.id).await?;
        let (query, _notes) = crate::views::page_query(Metric::Credits, &params, &known);
        crate::api::csv::csv_response(&state, ws, query).await
    }
    .await;
    result.unwrap_or_else(|e| e.into_response())
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        STYLESHEET,
    )
}

/// Pages, server functions (`/rpc/…`), assets and the site's static files.
pub fn router(state: AppState) -> Router<AppState> {
    let source = Source(Arc::new(StoreSource {
        store: state.store.clone(),
        clock: state.clock,
        default_workspace: state.dashboard_workspace.clone(),
        contact: state.contact.clone(),
    }));
    let context = move || {
        provide_context(source.clone());
        provide_context(CurrentWorkspace(String::new()));
    };
    let options = ShellOptions {
        leptos: state.leptos.clone(),
        hydrate: state.hydrate,
    };
    let hydrate = state.hydrate;
    // `/` and `/usage` are plain redirects, answered before Leptos.
    let routes = generate_route_list_with_exclusions(App, Some(vec!["/".into(), "/usage".into()]));
    Router::new()
        .route("/", get(|| async { Redirect::to("/usage/plan") }))
        .route("/usage", get(|| async { Redirect::to("/usage/plan") }))
        .route("/assets/credits.css", get(stylesheet))
        .route("/usage/credits.csv", get(credits_csv))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, move |leptos| {
            shell(ShellOptions { leptos, hydrate })
        }))
}
