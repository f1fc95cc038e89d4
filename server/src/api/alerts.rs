//! `GET /workspaces/{ws}/alerts` (API.md, "Alerts (v1.1)").

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::error::ApiResult;
use super::{page_of, paging, schema, workspace_or_404, Params};
use crate::store::{Alert, Delivery};
use crate::AppState;

/// Where an alert's (or a request's) delivery stands: `none` without a
/// webhook, `delivered`, `failed` after a failed attempt (still retried),
/// else `pending`.
pub fn delivery_status(webhook: bool, d: &Delivery) -> &'static str {
    if d.delivered_at.is_some() {
        "delivered"
    } else if !webhook {
        "none"
    } else if d.attempts > 0 {
        "failed"
    } else {
        "pending"
    }
}

/// An alert as the API returns it.
pub fn alert_json(a: &Alert, d: &Delivery, webhook: bool) -> Value {
    json!({
        "id": a.id,
        "kind": a.kind.key(),
        "percent": a.percent,
        "cycle": {"start": a.cycle.start, "end": a.cycle.end},
        "used": a.used,
        "granted": a.granted,
        "runs_out_on": a.runs_out_on,
        "created_at": a.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "delivery": {"status": delivery_status(webhook, d), "attempts": d.attempts},
    })
}

/// `GET /workspaces/{ws}/alerts`: the workspace's alerts, newest first,
/// `limit` (1-100, default 20) at a time; pass `next_cursor` back as
/// `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/alerts", tag = "alerts",
    params(("workspace_id" = String, Path), schema::SupportRequestParams),
    responses((status = 200, body = schema::AlertsOut), (status = 401, body = super::error::ErrorBody),
              (status = 404, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_alerts(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let (limit, cursor) = paging(q)?;
    let page = state.store.alerts(&ws.id, limit + 1, cursor, None).await?;
    let (items, next_cursor) = page_of(page, limit, |a| a.id.as_str());
    let alerts: Vec<Value> = items
        .iter()
        .map(|(a, d)| alert_json(a, d, state.webhook))
        .collect();
    Ok(Json(json!({"alerts": alerts, "next_cursor": next_cursor})))
}
