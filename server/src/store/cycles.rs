//! Cycle rows: one per workspace and billing cycle, the balance that
//! charges lock (and, with it, every figure of the cycle).

use app::domain::forecast::pace_window;

use super::prelude::*;
use super::rollup::{metric_code, RollupDim};

/// Makes sure the cycle starting on `start` has its row, granting the
/// plan's monthly credits when the cycle is first used.
pub(super) async fn ensure_cycle(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO cycles (workspace_id, start_day, plan_credits) VALUES ($1, $2, $3) \
         ON CONFLICT (workspace_id, start_day) DO NOTHING",
    )
    .bind(ws.id.clone())
    .bind(day_str(start))
    .bind(ws.plan.monthly_credits)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A cycle's credits; a cycle never used yet holds the plan's credits.
pub(super) async fn cycle_credits(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
) -> StoreResult<CycleCredits> {
    let row = sqlx::query(
        "SELECT plan_credits, add_on, rollover, used FROM cycles WHERE workspace_id = $1 AND start_day = $2",
    )
    .bind(ws.id.clone())
    .bind(day_str(start))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        Some(r) => CycleCredits {
            plan: r.try_get("plan_credits")?,
            add_on: r.try_get("add_on")?,
            rollover: r.try_get("rollover")?,
            used: r.try_get("used")?,
        },
        None => CycleCredits {
            plan: ws.plan.monthly_credits,
            ..CycleCredits::default()
        },
    })
}

/// The credits used in the run-out forecast's pace window before `today`
/// (the 7 full local days before it, [`pace_window`]), from the day's
/// totals: the one computation of that figure, for the Credits tab, the
/// banner and the alerts (which cache it on the cycle row for the day).
pub(super) async fn pace_used(
    conn: &mut AnyConnection,
    ws: &str,
    today: NaiveDate,
) -> StoreResult<i64> {
    let window = pace_window(today);
    let sql = format!(
        "SELECT CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM daily_rollup \
         WHERE workspace_id = $1 AND metric = '{}' AND dim = '{}' AND day >= $2 AND day < $3",
        metric_code(Metric::Credits),
        RollupDim::Total.code()
    );
    Ok(sqlx::query_scalar(&sql)
        .bind(ws.to_string())
        .bind(day_str(window.from))
        .bind(day_str(window.to))
        .fetch_one(&mut *conn)
        .await?)
}

impl Store {
    /// The credits workspace `ws` used in the run-out forecast's pace
    /// window before `today` ([`pace_used`]).
    pub async fn pace_used(&self, ws: &str, today: NaiveDate) -> StoreResult<i64> {
        let mut conn = self.pool.acquire().await?;
        pace_used(&mut conn, ws, today).await
    }
}
