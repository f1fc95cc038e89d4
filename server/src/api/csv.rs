//! `GET /credit-usage.csv`: the credit-usage query as RFC 4180 CSV, streamed
//! (the rows are written by `crate::export`, shared with the dashboard).

use axum::response::Response;

use super::common::*;
use super::reports::read_query;

/// `GET /workspaces/{ws}/credit-usage.csv`: one row per event without
/// `group_by`, one per group with it.
#[utoipa::path(get, path = "/workspaces/{workspace_id}/credit-usage.csv", tag = "reports",
    params(("workspace_id" = String, Path), schema::ReportParams),
    responses((status = 200, description = "RFC 4180 CSV with a header row; times and dates in the workspace's zone", content_type = "text/csv"),
              (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, description = "A bad parameter; with `--retain-events-months`, also a per-event CSV (no `group_by`) whose range starts before the retention horizon, named in the message", body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get_credit_usage_csv(
    State(state): State<AppState>,
    Path(ws): Path<String>,
    q: Params,
) -> ApiResult<Response> {
    let ws = workspace_or_404(&state, &ws).await?;
    let params = params_of(q)?;
    let query = read_query(&state, &ws, Metric::Credits, &params).await?;
    Ok(crate::export::credit_usage(&state.store, ws, query, state.now()).await?)
}
