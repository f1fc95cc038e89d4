//! `GET /workspaces/{ws}/alerts` (API.md, "Alerts (v1.1)").

use super::common::*;
use crate::store::Alert;

/// An alert's delivery to the webhook.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertDeliveryOut {
    /// `pending`, `delivered`, `failed` (still retried) or `none` (no webhook configured).
    pub status: String,
    pub attempts: i64,
}

/// An alert, recorded in the same transaction as the usage, grant or
/// charge that caused it. With a webhook configured it is POSTed (without
/// `delivery`, with `type` `credits.threshold_reached`, `credits.recovered`
/// or `credits.runout_forecast`, `workspace_id` and `workspace_name`) with
/// its id as `Idempotency-Key` and, with a secret, `X-Credits-Signature:
/// t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertOut {
    #[schema(example = "al_019ab3c4d5e60001a1b2")]
    pub id: String,
    /// `threshold`, `recovered`, `runout_forecast` or `limit_reached`.
    pub kind: String,
    /// The threshold; null for `runout_forecast` and `limit_reached`.
    pub percent: Option<u8>,
    pub cycle: CycleDates,
    /// The cycle's used; for `limit_reached`, the scope's.
    pub used: i64,
    /// The cycle's granted; for `limit_reached`, the scope's effective limit.
    pub granted: i64,
    /// The forecast run-out date; null unless `runout_forecast`.
    pub runs_out_on: Option<NaiveDate>,
    pub created_at: String,
    pub delivery: AlertDeliveryOut,
    /// `workspace`, or `user` / `campaign` for `limit_reached` (v1.2).
    pub scope: String,
    /// The user's or campaign's id; null for the workspace.
    pub scope_id: Option<String>,
}

impl AlertOut {
    fn of(a: &Alert, d: &Delivery, webhook: bool) -> Self {
        Self {
            id: a.id.clone(),
            kind: a.kind.key().to_string(),
            percent: a.percent,
            cycle: CycleDates {
                start: a.cycle.start,
                end: a.cycle.end,
            },
            used: a.used,
            granted: a.granted,
            runs_out_on: a.runs_out_on,
            created_at: a.created_at_text(),
            delivery: AlertDeliveryOut {
                status: d.status(webhook).key().to_string(),
                attempts: d.attempts,
            },
            scope: a.scope_name().to_string(),
            scope_id: a.scope_id().map(str::to_string),
        }
    }
}

/// A page of alerts, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertsOut {
    pub alerts: Vec<AlertOut>,
    pub next_cursor: Option<String>,
}

/// `GET /workspaces/{ws}/alerts`: the workspace's alerts, newest first,
/// `limit` (1-100, default 20) at a time; pass `next_cursor` back as
/// `cursor` for the next page.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/alerts", tag = "alerts",
    params(("workspace_id" = String, Path), schema::PageParams),
    responses((status = 200, body = AlertsOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_alerts(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<AlertsOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let (limit, cursor) = paging(q)?;
    let page = state.store.alerts(&ws.id, limit + 1, cursor, None).await?;
    let (items, next_cursor) = page_of(page, limit, |a| a.id.as_str());
    let alerts = items
        .iter()
        .map(|(a, d)| AlertOut::of(a, d, state.webhook))
        .collect();
    Ok(Json(AlertsOut {
        alerts,
        next_cursor,
    }))
}
