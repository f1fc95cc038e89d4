//! The benchmark's reference: a report computed naively from the raw
//! events, with no pre-aggregate and no index on the local day.

use super::prelude::*;
use super::reports::{cells_of, filters_of, fold_groups};
use super::rollup::{event_kind, event_value};

impl Store {
    /// `GROUP BY` over `usage_events` in the workspace's zone: PostgreSQL
    /// computes each event's local day from its instant (`AT TIME ZONE`);
    /// SQLite, which has no zone database, reads the local day stored with
    /// each event at ingest. Returns the total and the groups.
    pub async fn naive_report(
        &self,
        ws: &Workspace,
        metric: Metric,
        query: &UsageQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<(i64, Groups)> {
        let cal = ws.calendar();
        let range = query.period.range(cal.today(now), cal.week_start);
        let mut binds = Binds::default();
        let (workspace, kind, from, to) = (
            binds.add(Val::S(ws.id.clone())),
            binds.add(Val::S(event_kind(metric).into())),
            binds.add(Val::S(day_str(range.from))),
            binds.add(Val::S(day_str(range.to))),
        );
        let day = match self.engine {
            Engine::Postgres => {
                let zone = binds.add(Val::S(ws.tz.name().to_string()));
                format!(
                    "to_char(to_timestamp(occurred_at / 1000.0) AT TIME ZONE {zone}, 'YYYY-MM-DD')"
                )
            }
            Engine::Sqlite => "day".to_string(),
        };
        let column = |d: Dimension| match d {
            Dimension::Day => day.as_str(),
            Dimension::Action | Dimension::Category => "action",
            Dimension::User => "user_id",
            Dimension::Campaign => "COALESCE(campaign_id, '')",
            Dimension::Identity => "COALESCE(identity_id, '')",
        };
        let columns: Vec<&str> = query.group_by.iter().map(|d| column(*d)).collect();
        let value = event_value(metric);
        let mut sql = String::from("SELECT ");
        for c in &columns {
            sql.push_str(c);
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "CAST({value} AS BIGINT) FROM stored_events WHERE workspace_id = {workspace} AND kind = {kind} \
             AND {day} >= {from} AND {day} < {to}"
        ));
        for (dim, v) in filters_of(metric, query) {
            let place = binds.add(Val::S(v));
            sql.push_str(&format!(" AND {} = {place}", column(dim)));
        }
        if !columns.is_empty() {
            sql.push_str(&format!(" GROUP BY {}", columns.join(", ")));
        }
        let rows = bind_vals(sqlx::query(&sql), binds.0)
            .fetch_all(&self.pool)
            .await?;
        fold_groups(&query.group_by, cells_of(query.group_by.len(), &rows)?)
    }
}
