//! The dashboard's pages: Leptos SSR routes, server functions and assets.
//! Every page and server function reads its workspace from the session
//! (see [`crate::signin`]), never from the client.

use std::sync::Arc;

use app::error::DashboardError;
use app::format::local_timestamp;
use app::model::{
    ContactLinks, ConversationsView, CreditsView, Intent, Metric, Overview, SupportRequest,
};
use app::rpc::ssr::{CurrentUser, CurrentWorkspace, PageSession, Source, UsageSource};
use app::ui::nav::{Base, Tab};
use app::{shell, ShellOptions};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::{provide_context, use_context};
use leptos_axum::LeptosRoutes;

use crate::signin;
use crate::state::{AppState, Clock};
use crate::store::{Actor, SendLimit, Session, Store};
use crate::stylesheet;

/// The store as the server functions' data source.
struct StoreSource {
    store: Store,
    clock: Clock,
    contact: ContactLinks,
    embed_secret: Option<Arc<str>>,
    webhook: bool,
}

/// The server functions' data source over `store` alone (no embed, no
/// webhook): what `credits bench` times the tab views through.
pub fn store_source(store: Store, clock: Clock) -> Arc<dyn UsageSource> {
    Arc::new(StoreSource {
        store,
        clock,
        contact: ContactLinks::default(),
        embed_secret: None,
        webhook: false,
    })
}

fn public(e: crate::store::StoreError) -> DashboardError {
    match e {
        crate::store::StoreError::NotFound => DashboardError::NotFound,
        other => {
            tracing::error!(cause = %other, "dashboard query failed");
            DashboardError::Unavailable
        }
    }
}

impl StoreSource {
    /// This cycle's alerts and the settings, as the viewer (an admin or
    /// not) may see them.
    async fn alerts_info(
        &self,
        ws: &crate::store::Workspace,
        admin: bool,
        overview: &Overview,
    ) -> Result<app::model::AlertsInfo, crate::store::StoreError> {
        let workspace_id = ws.id.as_str();
        let start = overview.summary.cycle.start;
        let reached = self.store.reached_thresholds(workspace_id, start).await?;
        let alerts = self
            .store
            .alerts(workspace_id, 50, None, Some(start))
            .await?;
        // The banner speaks of today's forecast (the same as the Credits
        // tab's), not of an alert recorded days ago at another pace.
        let runs_out_on = if ws.alerts.runout_forecast {
            let today = overview.summary.today;
            let used = self.store.pace_used(&ws.id, today).await?;
            let c = overview.summary.credits;
            match app::domain::forecast::forecast(
                today,
                c.left,
                used,
                overview.summary.cycle.renews_on,
            )
            .outlook
            {
                app::domain::forecast::Outlook::RunsOutOn { date } => Some(date),
                _ => None,
            }
        } else {
            None
        };
        Ok(app::model::AlertsInfo {
            thresholds: ws.alerts.thresholds.clone(),
            runout_forecast: ws.alerts.runout_forecast,
            // The banner speaks of the thresholds the workspace still has.
            reached: reached
                .iter()
                .rev()
                .find(|p| ws.alerts.thresholds.contains(p))
                .copied(),
            runs_out_on,
            cycle_alerts: alerts
                .iter()
                .map(|(a, d)| app::model::AlertItem {
                    id: a.id.clone(),
                    kind: a.kind.key().to_string(),
                    percent: a.percent,
                    used: a.used,
                    granted: a.granted,
                    runs_out_on: a.runs_out_on,
                    created_at: a.created_at_text(),
                    created_local: app::format::local_time(a.created_at, ws.tz),
                    delivery: d.status(self.webhook).key().to_string(),
                })
                .collect(),
            can_edit: admin,
            dismissed: 0,
        })
    }

    async fn workspace(&self, id: &str) -> Result<crate::store::Workspace, DashboardError> {
        self.store
            .workspace(id)
            .await
            .map_err(public)?
            .ok_or(DashboardError::NotFound)
    }
}

#[async_trait::async_trait]
impl UsageSource for StoreSource {
    async fn overview(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
    ) -> Result<Overview, DashboardError> {
        let mut overview = self
            .store
            .overview(workspace_id, self.clock.now(), self.contact.clone())
            .await
            .map_err(public)?;
        // The workspace and the viewer's role, read once for the alerts
        // and the limits.
        let ws = self.workspace(workspace_id).await?;
        let admin = self
            .store
            .is_admin(workspace_id, user_id)
            .await
            .map_err(public)?;
        overview.alerts = self
            .alerts_info(&ws, admin, &overview)
            .await
            .map_err(public)?;
        let limits =
            crate::limits_view::limits_info(&self.store, &ws, user_id, admin, self.clock.now())
                .await
                .map_err(public)?;
        overview.limits = app::model::LimitsHtml {
            meter: app::ui::limits::meter_html(&limits),
            section: app::ui::limits::section_html(&limits),
        };
        // Instants are written in the workspace's zone here: the browser
        // carries no time-zone database.
        let zone = overview.summary.timezone.clone();
        overview.as_of_local = local_timestamp(&overview.as_of, &zone);
        if let Some(r) = overview.last_request.as_mut() {
            r.created_local = local_timestamp(&r.created_at, &zone);
        }
        Ok(overview)
    }

    async fn set_alert_settings(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        settings: app::domain::alerts::AlertSettings,
    ) -> Result<(), DashboardError> {
        if !self
            .store
            .is_admin(workspace_id, user_id)
            .await
            .map_err(public)?
        {
            return Err(DashboardError::refused(
                403,
                "Only admins of the workspace can change its alerts.",
            ));
        }
        let actor = Actor::User(user_id.unwrap_or_default().to_string());
        self.store
            .set_alert_settings(workspace_id, &settings, &actor, self.clock.now())
            .await
            .map_err(public)
    }

    async fn credits_view(
        &self,
        workspace_id: &str,
        params: &[(String, String)],
    ) -> Result<CreditsView, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        crate::views::credits_view(&self.store, &ws, params, self.clock.now())
            .await
            .map_err(public)
    }

    async fn conversations_view(
        &self,
        workspace_id: &str,
        params: &[(String, String)],
    ) -> Result<ConversationsView, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        crate::views::conversations_view(&self.store, &ws, params, self.clock.now())
            .await
            .map_err(public)
    }

    async fn change_limits(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        change: app::domain::limits::LimitChange,
    ) -> Result<(), DashboardError> {
        crate::limits_view::change(&self.store, workspace_id, user_id, change, self.clock.now())
            .await
    }

    async fn audit_page(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        after: &str,
    ) -> Result<String, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        crate::limits_view::audit_page(&self.store, &ws, user_id, after).await
    }

    async fn send_request(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        intent: Intent,
        message: &str,
    ) -> Result<SupportRequest, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        // A person writes a handful; a loop or a script is held back.
        let limits = [
            SendLimit {
                window: chrono::Duration::minutes(1),
                most: 10,
            },
            SendLimit {
                window: chrono::Duration::days(1),
                most: 100,
            },
        ];
        let sent = self
            .store
            .create_support_request(&ws, user_id, intent, message, self.clock.now(), &limits)
            .await
            .map_err(public)?;
        let mut request = sent.map_err(|limit| {
            let wait = if limit.window < chrono::Duration::days(1) {
                "You can send another in a minute."
            } else {
                "You can send another tomorrow."
            };
            DashboardError::refused(
                429,
                format!(
                    "You have sent {} requests already; {} has them all. {wait}",
                    limit.most,
                    ws.account_manager
                        .as_ref()
                        .map_or("your account manager", |m| m.name.as_str())
                ),
            )
        })?;
        request.created_local = local_timestamp(&request.created_at, ws.tz.name());
        Ok(request)
    }

    async fn refresh_session(
        &self,
        token: &str,
        previous: Option<&str>,
    ) -> Result<String, DashboardError> {
        let session =
            signin::session_from_handoff(&self.store, self.embed_secret.as_deref(), token, true)
                .await
                .map_err(|e| {
                    tracing::info!(cause = %e, "hand-off token refused");
                    DashboardError::SessionEnded
                })?;
        let fresh = signin::open_session(&self.store, &session)
            .await
            .map_err(public)?;
        if let Some(old) = previous.filter(|p| *p != fresh) {
            self.store.end_session(old).await.map_err(public)?;
        }
        Ok(fresh)
    }
}

/// `/usage/credits.csv`: the Credits tab's current view as CSV (the same
/// export as the API's `credit-usage.csv`, with the page's parameters).
async fn credits_csv(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::Extension(session): axum::Extension<Session>,
    axum::extract::Query(params): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let result = async {
        let Some(ws) = state.store.workspace(&session.workspace_id).await? else {
            return Ok((StatusCode::NOT_FOUND, "This workspace is gone.").into_response());
        };
        let names = state.store.names(&ws.id).await?;
        let (query, _notes) = crate::views::page_query(Metric::Credits, &params, &names);
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
    let source = Source(Arc::new(StoreSource {
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
        for base in [Base::STANDALONE, Base::EMBEDDED] {
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
