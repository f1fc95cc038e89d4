//! Cycle rows: one per workspace and billing cycle, the balance that
//! charges lock (and, with it, every figure of the cycle).

use super::prelude::*;

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
