//! `GET /support-requests`: requests to the account manager.

use super::*;

/// `GET /workspaces/{ws}/support-requests`: requests to the account
/// manager, newest first, `limit` (1-100, default 20) at a time; pass
/// `next_cursor` back as `cursor` for the next page.
#[utoipa::path(get, path = "/api/v1/workspaces/{workspace_id}/support-requests", tag = "support",
    params(("workspace_id" = String, Path), schema::SupportRequestParams),
    responses((status = 200, body = schema::SupportRequestsOut), (status = 401, body = error::ErrorBody),
              (status = 404, body = error::ErrorBody), (status = 422, body = error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_support_requests(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Json<Value>> {
    let ws = workspace_or_404(&state, &ws).await?;
    let (limit, cursor) = paging(q)?;
    let page = state
        .store
        .support_requests(&ws.id, limit + 1, cursor)
        .await?;
    let (items, next_cursor) = page_of(page, limit, |r| r.id.as_str());
    let requests: Vec<Value> = items
        .iter()
        .map(|(r, d)| {
            json!({
                "id": r.id, "workspace_id": r.workspace_id, "user_id": r.user_id, "intent": r.intent,
                "message": r.message, "created_at": r.created_at,
                "delivery": {
                    "status": if d.delivered_at.is_some() { "delivered" } else { "pending" },
                    "attempts": d.attempts,
                    "delivered_at": d.delivered_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                    "last_error": d.last_error,
                },
            })
        })
        .collect();
    Ok(Json(
        json!({"requests": requests, "next_cursor": next_cursor}),
    ))
}
