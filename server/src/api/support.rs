//! `GET /support-requests`: requests to the account manager.

use super::common::*;
use app::model::Intent;

/// Where a request's webhook delivery stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryOut {
    /// `pending` or `delivered`.
    pub status: String,
    pub attempts: i64,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

/// A request to the account manager. The same object (without `delivery`,
/// with `type: "support_request.created"`, `workspace_name` and
/// `account_manager`) is POSTed to `CREDITS_REQUEST_WEBHOOK_URL` with the
/// request's id as `Idempotency-Key`, retried until a 2xx.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SupportRequestOut {
    pub id: String,
    pub workspace_id: String,
    pub user_id: Option<String>,
    pub intent: Intent,
    pub message: String,
    pub created_at: String,
    pub delivery: DeliveryOut,
}

/// A page of requests, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SupportRequestsOut {
    pub requests: Vec<SupportRequestOut>,
    pub next_cursor: Option<String>,
}

/// `GET /workspaces/{ws}/support-requests`: requests to the account
/// manager, newest first, `limit` (1-100, default 20) at a time; pass
/// `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/support-requests", tag = "support",
    params(("workspace_id" = String, Path), schema::PageParams),
    responses((status = 200, body = SupportRequestsOut), (status = 401, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_support_requests(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<SupportRequestsOut>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let (limit, cursor) = paging(q)?;
    let page = state
        .store
        .support_requests(&ws.id, limit + 1, cursor)
        .await?;
    let (items, next_cursor) = page_of(page, limit, |r| r.id.as_str());
    let requests = items
        .into_iter()
        .map(|(r, d)| SupportRequestOut {
            id: r.id,
            workspace_id: r.workspace_id,
            user_id: r.user_id,
            intent: r.intent,
            message: r.message,
            created_at: r.created_at,
            delivery: DeliveryOut {
                status: d.request_status().key().to_string(),
                attempts: d.attempts,
                delivered_at: d
                    .delivered_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                last_error: d.last_error,
            },
        })
        .collect();
    Ok(Json(SupportRequestsOut {
        requests,
        next_cursor,
    }))
}
