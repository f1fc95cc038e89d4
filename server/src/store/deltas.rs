//! The changes a set of events makes ([`Deltas`]): to the rollups, the
//! cycle rows and the per-scope totals, summed per key and written in
//! key order in the events' transaction; below the mark of
//! [`super::density`], the keyed rollups' rows are left out.

use std::collections::BTreeSet;

use super::cycles::ensure_cycle;
use super::density::{self, Keyed};
use super::limits::{scopes_of, ScopeKey};
use super::prelude::*;
use super::rollup::{action_code, metric_code, RollupDim};

/// A row of `daily_rollup`: `(metric, dim, day, action, key, key2)`.
type RollupKey = (&'static str, &'static str, String, String, String, String);

/// Changes to the pre-aggregates and cycle counters that a set of events
/// makes; applied in key order so that concurrent writers lock rows in the
/// same order and cannot deadlock.
#[derive(Default)]
pub(super) struct Deltas {
    /// `(metric, dim, day, action, key, key2)` → change of `daily_rollup.value`
    /// (metric and dim as their codes, [`super::rollup`]).
    rollup: BTreeMap<RollupKey, i64>,
    pub(super) cycle_used: BTreeMap<NaiveDate, i64>,
    /// `(cycle start, scope)` → change of `scope_usage.used`: what each user
    /// and campaign used in each cycle, for limits.
    pub(super) scope_used: BTreeMap<(NaiveDate, ScopeKey), i64>,
    /// The events these changes add to the workspace (none for a move):
    /// counted towards its keyed rollups ([`density::take`]).
    pub(super) taken: i64,
}

impl Deltas {
    /// The changes of `n` new events, to be added with [`Deltas::add`].
    pub(super) fn taking(n: usize) -> Deltas {
        Deltas {
            taken: i64::try_from(n).unwrap_or(i64::MAX),
            ..Deltas::default()
        }
    }

    /// The opposite changes (an event leaving its keys).
    pub(super) fn negate(&mut self) {
        self.rollup.values_mut().for_each(|v| *v = -*v);
        self.cycle_used.values_mut().for_each(|v| *v = -*v);
        self.scope_used.values_mut().for_each(|v| *v = -*v);
    }

    pub(super) fn add(&mut self, e: &NewEvent, day: NaiveDate) {
        let d = day_str(day);
        let (metric, action, value) = match e.credits {
            Some((action, credits)) => {
                let start = BillingCycle::containing(day).start;
                *self.cycle_used.entry(start).or_default() += credits;
                for key in scopes_of(e) {
                    *self.scope_used.entry((start, key)).or_default() += credits;
                }
                (Metric::Credits, action_code(action), credits)
            }
            None => (Metric::Conversations, "", 1),
        };
        for dim in RollupDim::ALL {
            let (key, key2) = dim.keys(
                &e.user_id,
                e.campaign_id.as_deref(),
                e.identity_id.as_deref(),
            );
            *self
                .rollup
                .entry((
                    metric_code(metric),
                    dim.code(),
                    d.clone(),
                    action.to_string(),
                    key,
                    key2,
                ))
                .or_default() += value;
        }
    }

    pub(super) async fn apply(self, conn: &mut AnyConnection, ws: &Workspace) -> StoreResult<()> {
        let Deltas {
            rollup,
            cycle_used,
            scope_used,
            taken,
        } = self;
        // A keyed workspace's writes add to the rollups, then the totals,
        // as they always did. Below the mark a charge holds its cycle row
        // before it writes its events: so does a write here, before the
        // workspace's count ([`density::take`]).
        let keyed = if ws.keyed_rollups {
            Keyed::Write
        } else {
            write_totals(conn, ws, &cycle_used, &scope_used).await?;
            density::take(conn, &ws.id, taken).await?
        };
        let total = RollupDim::Total.code();
        let rows: Vec<_> = rollup
            .into_iter()
            .filter(|((_, dim, ..), v)| *v != 0 && (keyed == Keyed::Write || *dim == total))
            .collect();
        write_rollups(conn, ws, rows).await?;
        if ws.keyed_rollups {
            write_totals(conn, ws, &cycle_used, &scope_used).await?;
        }
        Ok(())
    }

    /// The scopes each cycle's usage touched.
    pub(super) fn touched(&self) -> BTreeMap<NaiveDate, BTreeSet<ScopeKey>> {
        let mut out: BTreeMap<NaiveDate, BTreeSet<ScopeKey>> = BTreeMap::new();
        for (start, key) in self.scope_used.keys() {
            out.entry(*start).or_default().insert(key.clone());
        }
        out
    }
}

/// Adds to `daily_rollup`'s rows, in key order.
async fn write_rollups(
    conn: &mut AnyConnection,
    ws: &Workspace,
    rows: Vec<(RollupKey, i64)>,
) -> StoreResult<()> {
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO daily_rollup (workspace_id, metric, dim, day, action, key, key2, value) VALUES {} \
             ON CONFLICT (workspace_id, metric, dim, day, action, key, key2) \
             DO UPDATE SET value = daily_rollup.value + excluded.value",
            values_sql(chunk.len(), 8, 1)
        );
        let mut vals = Vec::with_capacity(chunk.len() * 8);
        for ((metric, dim, day, action, key, key2), value) in chunk {
            vals.extend([
                Val::S(ws.id.clone()),
                Val::S(metric.to_string()),
                Val::S(dim.to_string()),
                Val::S(day.clone()),
                Val::S(action.clone()),
                Val::S(key.clone()),
                Val::S(key2.clone()),
                Val::I(*value),
            ]);
        }
        exec_values(conn, &sql, vals).await?;
    }
    Ok(())
}

/// Adds to the cycle rows, then to the per-scope totals.
async fn write_totals(
    conn: &mut AnyConnection,
    ws: &Workspace,
    cycle_used: &BTreeMap<NaiveDate, i64>,
    scope_used: &BTreeMap<(NaiveDate, ScopeKey), i64>,
) -> StoreResult<()> {
    for (&start, &used) in cycle_used {
        ensure_cycle(conn, ws, start).await?;
        // Checked in the statement: a cycle's figures stay far inside
        // 64 bits (SQLite would silently turn an overflow into a float).
        let done = sqlx::query(
            "UPDATE cycles SET used = used + $3 WHERE workspace_id = $1 AND start_day = $2 AND used <= $4 - $3",
        )
        .bind(ws.id.clone())
        .bind(day_str(start))
        .bind(used)
        .bind(MAX_CYCLE_CREDITS)
        .execute(&mut *conn)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "the cycle starting {start} would pass {MAX_CYCLE_CREDITS} credits used"
            )));
        }
    }
    // After the cycle rows: their locks serialise every writer of
    // these totals.
    let rows: Vec<_> = scope_used.iter().filter(|(_, v)| **v != 0).collect();
    for chunk in rows.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO scope_usage (workspace_id, start_day, scope, scope_id, used) VALUES {} \
             ON CONFLICT (workspace_id, start_day, scope, scope_id) \
             DO UPDATE SET used = scope_usage.used + excluded.used",
            values_sql(chunk.len(), 5, 1)
        );
        let mut vals = Vec::with_capacity(chunk.len() * 5);
        for ((start, (scope, id)), used) in chunk {
            vals.extend([
                Val::S(ws.id.clone()),
                Val::S(day_str(*start)),
                Val::S(scope.as_str().to_string()),
                Val::S(id.clone()),
                Val::I(**used),
            ]);
        }
        exec_values(conn, &sql, vals).await?;
    }
    Ok(())
}
