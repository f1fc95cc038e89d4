//! Reports over the per-day aggregates, the summary and the overview,
//! and the ordering and labels of report rows.

use super::cycles::cycle_credits;
use super::prelude::*;
use super::rollup::{
    action_code_of, action_key_sql, event_kind, event_value, metric_code, RollupDim,
};

impl Store {
    // ---- reads ----------------------------------------------------------

    /// The credits of the cycle holding `date`.
    pub async fn cycle_credits(
        &self,
        ws: &Workspace,
        cycle: BillingCycle,
    ) -> StoreResult<CycleCredits> {
        let mut conn = self.pool.acquire().await?;
        cycle_credits(&mut conn, ws, cycle.start).await
    }

    /// `GET /summary`.
    pub async fn summary(&self, ws_id: &str, now: DateTime<Utc>) -> StoreResult<Summary> {
        let ws = self.workspace(ws_id).await?.ok_or(StoreError::NotFound)?;
        self.summary_of(&ws, now).await
    }

    async fn summary_of(&self, ws: &Workspace, now: DateTime<Utc>) -> StoreResult<Summary> {
        let today = ws.calendar().today(now);
        let cycle = BillingCycle::containing(today);
        let credits = self.cycle_credits(ws, cycle).await?;
        Ok(Summary {
            workspace_id: ws.id.clone(),
            timezone: ws.tz.name().to_string(),
            today,
            cycle: CycleInfo {
                start: cycle.start,
                end: cycle.end,
                renews_on: cycle.end,
                days_until_renewal: cycle.days_until_renewal(today),
            },
            plan: ws.plan.clone(),
            credits: CreditsInfo::from(credits),
        })
    }

    /// The dashboard's header and Plan tab.
    pub async fn overview(
        &self,
        ws_id: &str,
        now: DateTime<Utc>,
        contact: ContactLinks,
    ) -> StoreResult<Overview> {
        let ws = self.workspace(ws_id).await?.ok_or(StoreError::NotFound)?;
        let summary = self.summary_of(&ws, now).await?;
        let identities: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE workspace_id = $1")
                .bind(ws_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(Overview {
            summary,
            workspace_name: ws.name.clone(),
            week_start: ws.week_start.as_str().to_string(),
            account_manager: ws.account_manager.clone(),
            identities_registered: identities,
            as_of: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            as_of_local: String::new(),
            last_request: self
                .support_requests(ws_id, 1, None)
                .await?
                .into_iter()
                .next()
                .map(|(r, _)| r),
            contact,
            locale: None,
            // Filled in by the page layer, which knows the viewer.
            alerts: Default::default(),
            limits: Default::default(),
        })
    }

    /// Whether `user` (none: nobody signed in) is an admin of the workspace.
    pub async fn is_admin(&self, ws: &str, user: Option<&str>) -> StoreResult<bool> {
        Ok(match user {
            Some(u) => self.user_role(ws, u).await? == Some(Role::Admin),
            None => false,
        })
    }

    /// The role of a user of a workspace (none: no such user).
    pub async fn user_role(&self, ws: &str, user: &str) -> StoreResult<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM users WHERE workspace_id = $1 AND id = $2")
                .bind(ws.to_string())
                .bind(user.to_string())
                .fetch_optional(&self.pool)
                .await?;
        role.map(|r| Role::parse(&r).ok_or_else(|| StoreError::Corrupt(format!("a role: {r}"))))
            .transpose()
    }

    /// A usage report over the per-day aggregates.
    pub async fn report(
        &self,
        ws: &Workspace,
        metric: Metric,
        query: &UsageQuery,
        now: DateTime<Utc>,
    ) -> StoreResult<Report> {
        let names = self.names(&ws.id).await?;
        self.report_named(ws, metric, query, now, &names).await
    }

    /// A usage report labelled with names the caller loaded once (a view
    /// makes several reports: one statement each).
    pub async fn report_named(
        &self,
        ws: &Workspace,
        metric: Metric,
        query: &UsageQuery,
        now: DateTime<Utc>,
        names: &Names,
    ) -> StoreResult<Report> {
        let cal = ws.calendar();
        let range = query.period.range(cal.today(now), cal.week_start);
        let source = source_of(ws, metric, query);
        let (sql, binds) = report_sql(ws, metric, query, range, source);
        // SQLite: one row (see [`packed_sql`]); PostgreSQL streams rows
        // over its socket cheaply, and packing them measured no faster.
        let cells = if self.engine == Engine::Sqlite {
            let sql = packed_sql(&sql, query.group_by.len());
            let packed: String = bind_vals(sqlx::query(&sql), binds)
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
            unpack(&packed)?
        } else {
            let rows = bind_vals(sqlx::query(&sql), binds)
                .fetch_all(&self.pool)
                .await?;
            cells_of(query.group_by.len(), &rows)?
        };
        // Events past the retention horizon count through their sums.
        let mut cells = cells;
        if source == Source::Events && self.reads_archive() {
            let (sql, binds) = report_sql(ws, metric, query, range, Source::Archive);
            let rows = bind_vals(sqlx::query(&sql), binds)
                .fetch_all(&self.pool)
                .await?;
            cells.extend(cells_of(query.group_by.len(), &rows)?);
        }
        let (total, groups) = fold_groups(&query.group_by, cells)?;
        let rows = app::rows::arrange_rows(&query.group_by, groups, range, names);
        Ok(Report {
            metric,
            period: PeriodInfo {
                name: query.period.name().to_string(),
                from: range.from,
                to: range.to,
                timezone: ws.tz.name().to_string(),
            },
            group_by: query.group_by.clone(),
            total,
            rows,
        })
    }

    /// Credit events of a period with the query's filters, in time order,
    /// a page at a time after `(after_ms, after_id)`.
    ///
    /// PostgreSQL finds a past month's events by their pack's day
    /// (`store/packs.rs`), where a page could otherwise unnest every pack
    /// after its start: a page reads a window of time from its start, the
    /// days around it, and widens it fourfold until the window holds a
    /// whole page or reaches the period's end.
    pub async fn credit_events_page(
        &self,
        ws: &Workspace,
        range: DateRange,
        query: &UsageQuery,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let (from, to) = ws.calendar().instants(range);
        let limit = limit.clamp(1, 10_000);
        let start = after
            .as_ref()
            .and_then(|(ms, _)| DateTime::from_timestamp_millis(*ms))
            .map_or(from, |at| at.max(from));
        let mut window = chrono::Duration::days(1);
        loop {
            let end = match self.engine {
                Engine::Postgres => to.min(start + window),
                Engine::Sqlite => to,
            };
            let rows = self
                .credit_events_before(ws, (from, start, end), query, after.clone(), limit)
                .await?;
            if rows.len() as i64 >= limit || end >= to {
                return Ok(rows);
            }
            window = window * 4;
        }
    }

    /// [`Store::credit_events_page`] up to `end`: the page's events from
    /// `from` (after the cursor) that occurred before `end`. Their stored
    /// day bounds the packs read: an instant's local day in any zone (the
    /// old one's during a move included; offsets run from -12 to +14
    /// hours) is within a day of its UTC date.
    async fn credit_events_before(
        &self,
        ws: &Workspace,
        (from, start, end): (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
        query: &UsageQuery,
        after: Option<(i64, String)>,
        limit: i64,
    ) -> StoreResult<Vec<EventRow>> {
        let slack = chrono::Duration::days(1);
        let mut sql = format!(
            "SELECT id, occurred_at, action, credits, user_id, campaign_id, identity_id FROM stored_events \
             WHERE workspace_id = $1 AND kind = 'credits' AND occurred_at >= $2 AND occurred_at < $3 \
             AND day >= '{}' AND day <= '{}'",
            day_str((start - slack).date_naive()),
            day_str((end + slack).date_naive()),
        );
        let mut ints = vec![from.timestamp_millis(), end.timestamp_millis()];
        let mut texts: Vec<String> = Vec::new();
        let mut n = 3;
        if let Some((ms, _)) = &after {
            ints.push(*ms);
            n += 1;
            let ms_pos = n;
            n += 1;
            sql.push_str(&format!(
                " AND (occurred_at > ${ms_pos} OR (occurred_at = ${ms_pos} AND id > ${n}))"
            ));
        }
        let f = &query.filters;
        let mut filters: Vec<(&str, String)> = Vec::new();
        for (col, v) in [
            ("user_id", &f.user_id),
            ("action", &f.action),
            ("campaign_id", &f.campaign_id),
            ("identity_id", &f.identity_id),
        ] {
            if let Some(v) = v {
                filters.push((col, v.clone()));
            }
        }
        let first_filter = n + 1;
        for (i, (col, _)) in filters.iter().enumerate() {
            sql.push_str(&format!(" AND {col} = ${}", first_filter + i));
        }
        sql.push_str(&format!(" ORDER BY occurred_at, id LIMIT {limit}"));
        let mut q = sqlx::query(&sql).bind(ws.id.clone());
        for i in ints {
            q = q.bind(i);
        }
        if let Some((_, id)) = after {
            texts.push(id);
        }
        for t in texts {
            q = q.bind(t);
        }
        for (_, v) in filters {
            q = q.bind(v);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(EventRow {
                    id: r.try_get("id")?,
                    occurred_at: from_ms(r.try_get("occurred_at")?)?,
                    action: r
                        .try_get::<Option<String>, _>("action")?
                        .unwrap_or_default(),
                    credits: r.try_get::<Option<i64>, _>("credits")?.unwrap_or_default(),
                    user_id: r.try_get("user_id")?,
                    campaign_id: r.try_get("campaign_id")?,
                    identity_id: r.try_get("identity_id")?,
                })
            })
            .collect()
    }

    /// How many usage events a workspace holds.
    pub async fn count_events(&self, ws: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(match self.engine {
            // A pack knows how many events it holds.
            Engine::Postgres => {
                "SELECT (SELECT COUNT(*) FROM usage_events WHERE workspace_id = $1) \
                     + (SELECT COALESCE(SUM(events), 0) FROM event_packs WHERE workspace_id = $1)"
            }
            Engine::Sqlite => "SELECT COUNT(*) FROM usage_events WHERE workspace_id = $1",
        })
        .bind(ws)
        .fetch_one(&self.pool)
        .await?)
    }
}

/// Where a report reads from: the rollup that answers the user, campaign
/// and identity it groups or filters by ([`RollupDim::answering`]), or the
/// events themselves when none does or the workspace keeps no keyed
/// rollups yet (`density`, [`source_of`]); beside the events,
/// the per-day sums of those dropped past the retention horizon
/// (`event_archive`, same columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Rollup(RollupDim),
    Events,
    Archive,
}

/// The filters that apply to `metric`, as (dimension, id).
pub(super) fn filters_of(metric: Metric, query: &UsageQuery) -> Vec<(Dimension, String)> {
    let f = &query.filters;
    let mut out = Vec::new();
    for (dim, v) in [
        (Dimension::User, &f.user_id),
        (Dimension::Action, &f.action),
        (Dimension::Campaign, &f.campaign_id),
        (Dimension::Identity, &f.identity_id),
    ] {
        if dim == Dimension::Action && metric != Metric::Credits {
            continue;
        }
        if let Some(v) = v {
            out.push((dim, v.clone()));
        }
    }
    out
}

pub(super) fn source_of(ws: &Workspace, metric: Metric, query: &UsageQuery) -> Source {
    let named: Vec<Dimension> = query
        .group_by
        .iter()
        .copied()
        .chain(filters_of(metric, query).into_iter().map(|(d, _)| d))
        .collect();
    let names = |d: Dimension| named.contains(&d);
    match RollupDim::answering(
        names(Dimension::User),
        names(Dimension::Campaign),
        names(Dimension::Identity),
    ) {
        // Keyed rollups are kept once a workspace has enough events to
        // need them (`density`); until then its events answer.
        Some(dim) if !dim.keyed() || ws.keyed_rollups => Source::Rollup(dim),
        _ => Source::Events,
    }
}

/// The column of an event (or of the sums of dropped events) that holds
/// dimension `d`.
pub(super) fn event_column(d: Dimension) -> &'static str {
    match d {
        Dimension::Day => "day",
        Dimension::Action | Dimension::Category => "action",
        Dimension::User => "user_id",
        Dimension::Campaign => "COALESCE(campaign_id, '')",
        Dimension::Identity => "COALESCE(identity_id, '')",
    }
}

/// The statement of a report and its binds: the grouped columns first, in
/// the query's order (category as action: it is folded in Rust), as `k0`,
/// `k1`, then the value as `v`.
pub(super) fn report_sql(
    ws: &Workspace,
    metric: Metric,
    query: &UsageQuery,
    range: DateRange,
    source: Source,
) -> (String, Vec<Val>) {
    let column = |d: Dimension| -> &'static str {
        match source {
            Source::Rollup(dim) => dim.column(d),
            Source::Events | Source::Archive => event_column(d),
        }
    };
    let columns: Vec<&str> = query.group_by.iter().map(|d| column(*d)).collect();
    // A rollup's action is a code: read back as the action's key.
    let shown = |d: Dimension, c: &str| match (d, source) {
        (Dimension::Action | Dimension::Category, Source::Rollup(_)) => action_key_sql(),
        _ => c.to_string(),
    };
    let mut sql = String::from("SELECT ");
    for (i, (d, c)) in query.group_by.iter().zip(&columns).enumerate() {
        sql.push_str(&format!("{} AS k{i}, ", shown(*d, c)));
    }
    let mut binds = Binds::default();
    let workspace = binds.add(Val::S(ws.id.clone()));
    match source {
        Source::Rollup(dim) => {
            let (m, d, from, to) = (
                binds.add(Val::S(metric_code(metric).into())),
                binds.add(Val::S(dim.code().into())),
                binds.add(Val::S(day_str(range.from))),
                binds.add(Val::S(day_str(range.to))),
            );
            sql.push_str(&format!(
                "CAST(COALESCE(SUM(value), 0) AS BIGINT) AS v FROM daily_rollup \
                 WHERE workspace_id = {workspace} AND metric = {m} AND dim = {d} AND day >= {from} AND day < {to}"
            ));
        }
        Source::Events => {
            // The instants bound the index range (a day is at most 26
            // hours from UTC either way, and a zone move in progress may
            // leave an event on its old zone's day); the stored day decides.
            let (start, end) = ws.calendar().instants(range);
            let slack = chrono::Duration::days(2);
            let value = event_value(metric);
            let (kind, lo, hi, from, to) = (
                binds.add(Val::S(event_kind(metric).into())),
                binds.add(Val::I((start - slack).timestamp_millis())),
                binds.add(Val::I((end + slack).timestamp_millis())),
                binds.add(Val::S(day_str(range.from))),
                binds.add(Val::S(day_str(range.to))),
            );
            sql.push_str(&format!(
                "CAST(COALESCE({value}, 0) AS BIGINT) AS v FROM stored_events \
                 WHERE workspace_id = {workspace} AND kind = {kind} AND occurred_at >= {lo} AND occurred_at < {hi} \
                 AND day >= {from} AND day < {to}"
            ));
        }
        Source::Archive => {
            let (kind, from, to) = (
                binds.add(Val::S(event_kind(metric).into())),
                binds.add(Val::S(day_str(range.from))),
                binds.add(Val::S(day_str(range.to))),
            );
            sql.push_str(&format!(
                "CAST(COALESCE(SUM(value), 0) AS BIGINT) AS v FROM event_archive \
                 WHERE workspace_id = {workspace} AND kind = {kind} AND day >= {from} AND day < {to}"
            ));
        }
    }
    for (dim, v) in filters_of(metric, query) {
        let col = column(dim);
        let v = match (dim, source) {
            (Dimension::Action, Source::Rollup(_)) => action_code_of(&v),
            _ => v,
        };
        // The index by the second key holds the rows that have one.
        let indexed = col == "key2" && !v.is_empty();
        let place = binds.add(Val::S(v));
        sql.push_str(&format!(" AND {col} = {place}"));
        if indexed {
            sql.push_str(" AND key2 <> ''");
        }
    }
    if !columns.is_empty() {
        sql.push_str(&format!(" GROUP BY {}", columns.join(", ")));
    }
    (sql, binds.0)
}

/// A report's groups packed in one row and one value (SQLite): a JSON
/// array of `[k0, k1, …, v]`, built by the database from `sql` (whose
/// columns are `k0`… and `v`, as [`report_sql`] names them). SQLite's
/// driver hands each row from the connection's thread to the caller's on
/// its own, and a month of days by users is 1,550 rows: those hand-offs
/// took twice as long as the statement.
pub(super) fn packed_sql(sql: &str, width: usize) -> String {
    let cells = (0..width).map(|i| format!("k{i}, ")).collect::<String>() + "v";
    format!("SELECT json_group_array(json_array({cells})) FROM ({sql}) AS r")
}

/// The rows of [`packed_sql`]'s answer: each one's keys and value.
pub(super) fn unpack(packed: &str) -> StoreResult<Vec<(Vec<String>, Option<i64>)>> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_str(packed).map_err(|e| StoreError::Corrupt(format!("a report: {e}")))?;
    rows.into_iter()
        .map(|mut cells| {
            let value = match cells.pop() {
                Some(serde_json::Value::Null) => None,
                Some(v) => Some(
                    v.as_i64()
                        .ok_or_else(|| StoreError::Corrupt(format!("a report's value: {v}")))?,
                ),
                None => return Err(StoreError::Corrupt("an empty report row".into())),
            };
            let keys = cells
                .into_iter()
                .map(|k| match k {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(StoreError::Corrupt(format!("a report's key: {other}"))),
                })
                .collect::<StoreResult<Vec<String>>>()?;
            Ok((keys, value))
        })
        .collect()
}

/// The keys and value of report rows read one by one: `width` grouped
/// columns, then the value.
pub(super) fn cells_of(
    width: usize,
    rows: &[AnyRow],
) -> StoreResult<Vec<(Vec<String>, Option<i64>)>> {
    rows.iter()
        .map(|row| {
            let keys = (0..width)
                .map(|i| row.try_get::<String, _>(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((keys, row.try_get(width)?))
        })
        .collect()
}

/// The total and the groups of a report's rows: the grouped columns' keys
/// in the query's order and the value (NULL as 0). Category is folded from
/// the action, `''` stands for none, and zero groups are left out (a zone
/// move can leave a rollup key at zero: no event, no row).
pub(super) fn fold_groups(
    dims: &[Dimension],
    rows: Vec<(Vec<String>, Option<i64>)>,
) -> StoreResult<(i64, Groups)> {
    let mut groups = Groups::new();
    let mut total = 0i64;
    for (raw, v) in rows {
        let v = v.unwrap_or(0);
        total += v;
        if dims.is_empty() || v == 0 {
            continue;
        }
        if raw.len() != dims.len() {
            return Err(StoreError::Corrupt(format!(
                "a report row has {} keys for {} dimensions",
                raw.len(),
                dims.len()
            )));
        }
        let keys = dims
            .iter()
            .zip(raw)
            .map(|(d, raw)| match d {
                Dimension::Category => Action::parse(&raw).map(|a| a.category().key().to_string()),
                _ => none_if_empty(raw),
            })
            .collect();
        *groups.entry(keys).or_default() += v;
    }
    groups.retain(|_, v| *v != 0);
    Ok((total, groups))
}

impl app::rows::Labels for Names {
    fn user(&self, id: &str) -> Option<&str> {
        self.users.get(id).map(String::as_str)
    }
    fn campaign(&self, id: &str) -> Option<&str> {
        self.campaigns.get(id).map(|(name, _)| name.as_str())
    }
    fn identity(&self, id: &str) -> Option<&str> {
        self.identities.get(id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::calendar::Period;
    use app::model::Filters;

    fn query(group_by: Vec<Dimension>, filters: Filters) -> UsageQuery {
        UsageQuery {
            period: Period::LastMonth,
            group_by,
            filters,
        }
    }

    fn workspace(keyed_rollups: bool) -> Workspace {
        Workspace {
            id: "w".into(),
            name: "W".into(),
            tz: chrono_tz::UTC,
            week_start: Default::default(),
            plan: app::model::Plan {
                name: "P".into(),
                monthly_credits: 1,
                identities_included: 1,
                price: app::model::Price {
                    amount_cents: 0,
                    currency: "EUR".into(),
                },
            },
            account_manager: None,
            alerts: Default::default(),
            limits: Default::default(),
            keyed_rollups,
        }
    }

    #[test]
    fn each_question_reads_the_narrowest_rollup() {
        let ws = workspace(true);
        use Dimension::*;
        let none = Filters::default;
        let user = Filters {
            user_id: Some("u".into()),
            ..Filters::default()
        };
        let identity = Filters {
            identity_id: Some("i".into()),
            ..Filters::default()
        };
        let c = Metric::Credits;
        let cases = [
            (query(vec![], none()), Source::Rollup(RollupDim::Total)),
            (
                query(vec![Day, Action], none()),
                Source::Rollup(RollupDim::Total),
            ),
            (
                query(vec![Category], none()),
                Source::Rollup(RollupDim::Total),
            ),
            (
                query(vec![Day, User], none()),
                Source::Rollup(RollupDim::User),
            ),
            (
                query(vec![Day, Action], user.clone()),
                Source::Rollup(RollupDim::User),
            ),
            (
                query(vec![User], user.clone()),
                Source::Rollup(RollupDim::User),
            ),
            (
                query(vec![Campaign], identity.clone()),
                Source::Rollup(RollupDim::CampaignIdentity),
            ),
            (
                query(vec![Campaign], user.clone()),
                Source::Rollup(RollupDim::UserCampaign),
            ),
            (query(vec![Identity], user.clone()), Source::Events),
            (query(vec![Campaign, Identity], user), Source::Events),
        ];
        for (q, want) in cases {
            assert_eq!(
                source_of(&ws, c, &q),
                want,
                "{:?} {:?}",
                q.group_by,
                q.filters
            );
            // Below the mark, a workspace's events answer what its keyed
            // rollups would; its day's totals are always kept.
            let sparse = match want {
                Source::Rollup(RollupDim::Total) => want,
                _ => Source::Events,
            };
            assert_eq!(source_of(&workspace(false), c, &q), sparse);
        }
        // Conversations have no action: an action filter is not theirs.
        let action = Filters {
            action: Some("ai_completion".into()),
            ..Filters::default()
        };
        assert_eq!(
            source_of(&ws, Metric::Conversations, &query(vec![Identity], action)),
            Source::Rollup(RollupDim::Identity)
        );
    }

    #[test]
    fn a_packed_report_unpacks_and_folds_as_rows_would() {
        let packed = r#"[["2026-10-01","u1",5],["2026-10-01","",3],["2026-10-02","u1",0]]"#;
        let cells = unpack(packed).expect("unpacks");
        assert_eq!(
            cells[0],
            (vec!["2026-10-01".to_string(), "u1".to_string()], Some(5))
        );
        let (total, groups) =
            fold_groups(&[Dimension::Day, Dimension::User], cells).expect("folds");
        assert_eq!(total, 8);
        // `''` is "none", and a zero group is left out.
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[&vec![Some("2026-10-01".to_string()), None]], 3);
        // A total alone, and no rows at all.
        assert_eq!(
            fold_groups(&[], unpack("[[42]]").expect("as written"))
                .expect("as written")
                .0,
            42
        );
        assert_eq!(
            fold_groups(&[], unpack("[]").expect("as written"))
                .expect("as written")
                .0,
            0
        );
        // What the statement cannot give is an error, not a panic.
        assert!(unpack("[[1, 2]]").is_err());
        assert!(unpack(r#"[["a", "b"]]"#).is_err());
        assert!(unpack("[[]]").is_err());
        assert_eq!(unpack("[[null]]").expect("as written")[0].1, None);
        assert!(unpack("not json").is_err());
        assert!(fold_groups(
            &[Dimension::Day],
            unpack(r#"[["a","b",1]]"#).expect("as written")
        )
        .is_err());
    }
}
