//! The dashboard's backend: what the server functions (`app::rpc`) call,
//! implemented over the store. Every call names the workspace of the
//! request's session, never one the client sent.

use std::sync::Arc;

use app::error::DashboardError;
use app::format::local_timestamp;
use app::model::{ContactLinks, Intent, Overview, SupportRequest};
use app::query::Query;
use app::rpc::ssr::DashboardBackend;
use app::ui::server::conversations::ConversationsView;
use app::ui::server::credits::CreditsView;

use crate::signin;
use crate::state::Clock;
use crate::store::{Actor, SendLimit, Store, StoreError};

/// The store as the server functions' backend.
pub(super) struct StoreBackend {
    pub(super) store: Store,
    pub(super) clock: Clock,
    pub(super) contact: ContactLinks,
    pub(super) embed_secret: Option<Arc<str>>,
    pub(super) webhook: bool,
}

/// The server functions' backend over `store` alone (no embed, no
/// webhook): what `credits bench` times the tab views through.
pub fn store_backend(store: Store, clock: Clock) -> Arc<dyn DashboardBackend> {
    Arc::new(StoreBackend {
        store,
        clock,
        contact: ContactLinks::default(),
        embed_secret: None,
        webhook: false,
    })
}

impl StoreBackend {
    /// This cycle's alerts and the settings, as the viewer (an admin or
    /// not) may see them.
    async fn alerts_info(
        &self,
        ws: &crate::store::Workspace,
        admin: bool,
        overview: &Overview,
    ) -> Result<app::model::AlertsInfo, StoreError> {
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
            .await?
            .ok_or(DashboardError::NotFound)
    }
}

#[async_trait::async_trait]
impl DashboardBackend for StoreBackend {
    async fn overview(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
    ) -> Result<Overview, DashboardError> {
        let mut overview = self
            .store
            .overview(workspace_id, self.clock.now(), self.contact.clone())
            .await?;
        // The workspace and the viewer's role, read once for the alerts
        // and the limits.
        let ws = self.workspace(workspace_id).await?;
        let admin = self.store.is_admin(workspace_id, user_id).await?;
        overview.alerts = self.alerts_info(&ws, admin, &overview).await?;
        let limits =
            super::limits::limits_info(&self.store, &ws, user_id, admin, self.clock.now()).await?;
        overview.limits = app::model::LimitsHtml {
            meter: app::ui::server::limits::meter_html(&limits),
            section: app::ui::server::limits::section_html(&limits),
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
        if !self.store.is_admin(workspace_id, user_id).await? {
            return Err(DashboardError::refused(
                403,
                "Only admins of the workspace can change its alerts.",
            ));
        }
        let actor = Actor::User(user_id.unwrap_or_default().to_string());
        Ok(self
            .store
            .set_alert_settings(workspace_id, &settings, &actor, self.clock.now())
            .await?)
    }

    async fn credits_view(
        &self,
        workspace_id: &str,
        query: &Query,
    ) -> Result<CreditsView, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        Ok(super::tabs::credits_view(&self.store, &ws, query, self.clock.now()).await?)
    }

    async fn conversations_view(
        &self,
        workspace_id: &str,
        query: &Query,
    ) -> Result<ConversationsView, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        Ok(super::tabs::conversations_view(&self.store, &ws, query, self.clock.now()).await?)
    }

    async fn change_limits(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        change: app::domain::limits::LimitChange,
    ) -> Result<(), DashboardError> {
        super::limits::change(&self.store, workspace_id, user_id, change, self.clock.now()).await
    }

    async fn audit_page(
        &self,
        workspace_id: &str,
        user_id: Option<&str>,
        after: &str,
    ) -> Result<String, DashboardError> {
        let ws = self.workspace(workspace_id).await?;
        super::limits::audit_page(&self.store, &ws, user_id, after).await
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
            .await?;
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
        let fresh = signin::open_session(&self.store, &session).await?;
        if let Some(old) = previous.filter(|p| *p != fresh) {
            self.store.end_session(old).await?;
        }
        Ok(fresh)
    }
}
