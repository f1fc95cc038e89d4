//! Alerts (API.md, "Alerts (v1.1)"): recorded in the transaction that
//! changed a cycle's balance row, listed newest first, delivered through
//! the webhook outbox.
//!
//! Exactly once: every write that changes a cycle (an event batch, a
//! charge, a grant, a plan raise) first updates that cycle's row in
//! `cycles`, which takes the row's lock (PostgreSQL) or the database's
//! write lock (SQLite) until commit. The thresholds the cycle has reached
//! live on that same row (`reached`), so the decision "this usage crossed
//! 80 %" is read and written under the lock, by one transaction, on every
//! process sharing the database.

use app::domain::alerts::{assess, join, parse_set, AlertSettings};
use app::domain::calendar::BillingCycle;
use app::domain::forecast::{forecast, Outlook};
use app::domain::limits::Scope;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{AnyConnection, Row};

use crate::outbox::payload::{AlertRecorded, Cycle};

use super::audit::{alerts_json, AuditAction, Change};
use super::cycles;
use super::error::{StoreError, StoreResult};
use super::sql::{day_str, from_ms};
use super::types::{Actor, Delivery, Workspace};

/// What an alert says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    Threshold,
    Recovered,
    RunoutForecast,
    /// A user's or campaign's used reached its effective limit, or a
    /// charge was refused by it (v1.2).
    LimitReached,
}

impl AlertKind {
    /// The API spelling.
    pub fn key(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::Recovered => "recovered",
            Self::RunoutForecast => "runout_forecast",
            Self::LimitReached => "limit_reached",
        }
    }

    /// The webhook's event type.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Threshold => "credits.threshold_reached",
            Self::Recovered => "credits.recovered",
            Self::RunoutForecast => "credits.runout_forecast",
            Self::LimitReached => "credits.limit_reached",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "threshold" => Some(Self::Threshold),
            "recovered" => Some(Self::Recovered),
            "runout_forecast" => Some(Self::RunoutForecast),
            "limit_reached" => Some(Self::LimitReached),
            _ => None,
        }
    }
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: String,
    pub workspace_id: String,
    pub kind: AlertKind,
    pub percent: Option<u8>,
    pub cycle: BillingCycle,
    pub used: i64,
    pub granted: i64,
    pub runs_out_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    /// The user or campaign of a `limit_reached` alert; `None` for the
    /// workspace's own alerts.
    pub scope: Option<(Scope, String)>,
}

impl Alert {
    /// `user`, `campaign` or `workspace`.
    pub fn scope_name(&self) -> &'static str {
        self.scope.as_ref().map_or("workspace", |(s, _)| s.as_str())
    }

    /// The user's or campaign's id; `None` for the workspace.
    pub fn scope_id(&self) -> Option<&str> {
        self.scope.as_ref().map(|(_, id)| id.as_str())
    }

    /// When it was recorded, as the contract writes instants (RFC 3339,
    /// seconds, `Z`).
    pub fn created_at_text(&self) -> String {
        self.created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }

    /// The webhook payload (API.md, "Delivery").
    pub fn payload(&self, workspace_name: &str) -> String {
        AlertRecorded {
            id: &self.id,
            workspace_id: &self.workspace_id,
            workspace_name,
            kind: self.kind.key(),
            percent: self.percent,
            cycle: Cycle {
                start: self.cycle.start,
                end: self.cycle.end,
            },
            used: self.used,
            granted: self.granted,
            runs_out_on: self.runs_out_on,
            created_at: self.created_at,
            scope: self.scope_name(),
            scope_id: self.scope_id(),
        }
        .to_json(self.kind.event_type())
    }
}

/// The cycle row's figures and alert state, read under the row's lock.
#[derive(Clone, PartialEq)]
struct CycleState {
    granted: i64,
    used: i64,
    reached: std::collections::BTreeSet<u8>,
    runout_alerted: bool,
    pace_day: String,
    pace_used: i64,
    alert_seq: i64,
    last_alert_at: i64,
}

const STATE_COLUMNS: &str = "plan_credits + add_on + rollover AS granted, used, reached, \
     runout_alerted, pace_day, pace_used, alert_seq, last_alert_at";

fn state_from_row(r: &sqlx::any::AnyRow) -> StoreResult<CycleState> {
    let reached: String = r.try_get("reached")?;
    Ok(CycleState {
        granted: r.try_get("granted")?,
        used: r.try_get("used")?,
        reached: parse_set(&reached),
        runout_alerted: r.try_get::<i64, _>("runout_alerted")? != 0,
        pace_day: r.try_get("pace_day")?,
        pace_used: r.try_get("pace_used")?,
        alert_seq: r.try_get("alert_seq")?,
        last_alert_at: r.try_get("last_alert_at")?,
    })
}

/// Credits used in the pace window before `today` ([`cycles::pace_used`]),
/// cached on the cycle row for the day: the window only moves at midnight.
async fn pace_used(
    conn: &mut AnyConnection,
    ws: &str,
    state: &CycleState,
    today: NaiveDate,
) -> StoreResult<(i64, bool)> {
    if state.pace_day == day_str(today) {
        return Ok((state.pace_used, false));
    }
    Ok((cycles::pace_used(conn, ws, today).await?, true))
}

/// One cycle's balance and alert state, read under the row's lock, and
/// the alerts decided on it in this transaction: decisions are made in
/// memory, one per change, and written once by [`AlertBook::close`].
pub(super) struct AlertBook {
    start: NaiveDate,
    read: CycleState,
    state: CycleState,
    alerts: Vec<Alert>,
}

impl AlertBook {
    /// Takes the cycle row's lock (a no-op update) and reads it; `None`
    /// when the cycle has no row.
    pub(super) async fn lock(
        conn: &mut AnyConnection,
        ws: &str,
        start: NaiveDate,
    ) -> StoreResult<Option<Self>> {
        let sql = format!(
            "UPDATE cycles SET used = used WHERE workspace_id = $1 AND start_day = $2 RETURNING {STATE_COLUMNS}"
        );
        Self::open(conn, &sql, ws, start).await
    }

    /// Reads a cycle whose row the transaction has already updated.
    pub(super) async fn read(
        conn: &mut AnyConnection,
        ws: &str,
        start: NaiveDate,
    ) -> StoreResult<Option<Self>> {
        let sql = format!(
            "SELECT {STATE_COLUMNS} FROM cycles WHERE workspace_id = $1 AND start_day = $2"
        );
        Self::open(conn, &sql, ws, start).await
    }

    /// A book on the cycle row `sql` returns (bound to the workspace and
    /// the cycle's start).
    async fn open(
        conn: &mut AnyConnection,
        sql: &str,
        ws: &str,
        start: NaiveDate,
    ) -> StoreResult<Option<Self>> {
        let row = sqlx::query(sql)
            .bind(ws.to_string())
            .bind(day_str(start))
            .fetch_optional(&mut *conn)
            .await?;
        Ok(row
            .map(|r| state_from_row(&r))
            .transpose()?
            .map(|state| Self {
                start,
                read: state.clone(),
                state,
                alerts: Vec::new(),
            }))
    }

    /// The cycle's granted credits and what it used, as they stand.
    pub(super) fn figures(&self) -> (i64, i64) {
        (self.state.granted, self.state.used)
    }

    /// Forgets the run-out forecast's cached pace: usage of the days it
    /// covers arrived after it was computed (a batch of past days).
    pub(super) fn forget_pace(&mut self) {
        self.state.pace_day.clear();
    }

    /// Records a `limit_reached` alert of a user or campaign: `used` and
    /// `effective` are the scope's (the caller decided it fires, once per
    /// scope and cycle).
    pub(super) fn limit_reached(
        &mut self,
        ws: &Workspace,
        now: DateTime<Utc>,
        scope: Scope,
        id: &str,
        used: i64,
        effective: i64,
    ) {
        let s = &mut self.state;
        let created_ms = now.timestamp_millis().max(s.last_alert_at);
        let Ok(created_at) = from_ms(created_ms) else {
            return;
        };
        s.alert_seq += 1;
        s.last_alert_at = created_ms;
        self.alerts.push(Alert {
            id: alert_id(created_ms, s.alert_seq),
            workspace_id: ws.id.clone(),
            kind: AlertKind::LimitReached,
            percent: None,
            cycle: BillingCycle::containing(self.start),
            used,
            granted: effective,
            runs_out_on: None,
            created_at,
            scope: Some((scope, id.to_string())),
        });
    }

    /// Spends `credits` (the caller checked [`AlertBook::left`]).
    pub(super) fn spend(&mut self, credits: i64) {
        self.state.used += credits;
    }

    /// Decides the alerts the cycle's figures as they stand now cause.
    /// `usage` says whether the change was usage: thresholds and run-out
    /// forecasts fire only with usage; a grant or a plan raise can only
    /// recover thresholds.
    pub(super) async fn decide(
        &mut self,
        conn: &mut AnyConnection,
        ws: &Workspace,
        now: DateTime<Utc>,
        usage: bool,
    ) -> StoreResult<()> {
        let cycle = BillingCycle::containing(self.start);
        let s = &mut self.state;
        let assessment = assess(&ws.alerts.thresholds, &s.reached, s.used, s.granted, usage);
        // Numbered and timed under the cycle row's lock: a later decision
        // never gets an earlier time or a smaller id, whichever process
        // makes it.
        let created_ms = now.timestamp_millis().max(s.last_alert_at);
        let created_at = from_ms(created_ms)?;
        let (used, granted) = (s.used, s.granted);
        let mut seq = s.alert_seq;
        let mut alert = |kind, percent, runs_out_on| {
            seq += 1;
            Alert {
                id: alert_id(created_ms, seq),
                workspace_id: ws.id.clone(),
                kind,
                percent,
                cycle,
                used,
                granted,
                runs_out_on,
                created_at,
                scope: None,
            }
        };
        let mut alerts: Vec<Alert> = Vec::new();
        for &p in &assessment.recovered {
            alerts.push(alert(AlertKind::Recovered, Some(p), None));
        }
        for &p in &assessment.fired {
            alerts.push(alert(AlertKind::Threshold, Some(p), None));
        }
        let today = ws.calendar().local_day(now);
        if usage
            && ws.alerts.runout_forecast
            && !s.runout_alerted
            && cycle.start <= today
            && today < cycle.end
        {
            let (used_in_window, fresh) = pace_used(conn, &ws.id, s, today).await?;
            if fresh {
                (s.pace_day, s.pace_used) = (day_str(today), used_in_window);
            }
            if let Outlook::RunsOutOn { date } =
                forecast(today, granted - used, used_in_window, cycle.end).outlook
            {
                alerts.push(alert(AlertKind::RunoutForecast, None, Some(date)));
                s.runout_alerted = true;
            }
        }
        s.reached = assessment.reached;
        if !alerts.is_empty() {
            s.alert_seq += alerts.len() as i64;
            s.last_alert_at = created_ms;
        }
        self.alerts.extend(alerts);
        Ok(())
    }

    /// Writes what changed on the cycle row (spending, alert state) in one
    /// statement, and the alerts with their webhook deliveries.
    pub(super) async fn close(
        self,
        conn: &mut AnyConnection,
        ws: &Workspace,
    ) -> StoreResult<Vec<Alert>> {
        let s = &self.state;
        if *s != self.read {
            sqlx::query(
                "UPDATE cycles SET used = $3, reached = $4, runout_alerted = $5, pace_day = $6, pace_used = $7, \
                 alert_seq = $8, last_alert_at = $9 WHERE workspace_id = $1 AND start_day = $2",
            )
            .bind(ws.id.clone())
            .bind(day_str(self.start))
            .bind(s.used)
            .bind(join(s.reached.iter().copied()))
            .bind(i64::from(s.runout_alerted))
            .bind(s.pace_day.clone())
            .bind(s.pace_used)
            .bind(s.alert_seq)
            .bind(s.last_alert_at)
            .execute(&mut *conn)
            .await?;
        }
        for a in &self.alerts {
            insert_alert(conn, ws, a).await?;
        }
        Ok(self.alerts)
    }
}

/// Records the alerts a change of the cycle starting `start` causes, in
/// the caller's transaction, which must already have updated that cycle's
/// row (so that it holds the row's lock). `usage` as in
/// [`AlertBook::decide`].
pub(super) async fn record_alerts(
    conn: &mut AnyConnection,
    ws: &Workspace,
    start: NaiveDate,
    now: DateTime<Utc>,
    usage: bool,
) -> StoreResult<Vec<Alert>> {
    let Some(mut book) = AlertBook::read(conn, &ws.id, start).await? else {
        return Ok(Vec::new());
    };
    book.decide(conn, ws, now, usage).await?;
    book.close(conn, ws).await
}

/// `al_` + the time, the cycle's sequence number and a random tail: ids
/// sort in the order the alerts were decided.
fn alert_id(created_ms: i64, seq: i64) -> String {
    use rand::Rng;
    format!(
        "al_{created_ms:012x}{seq:08x}{:08x}",
        rand::thread_rng().gen::<u32>()
    )
}

async fn insert_alert(conn: &mut AnyConnection, ws: &Workspace, a: &Alert) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO alerts (id, workspace_id, kind, percent, cycle_start, cycle_end, used, granted, runs_out_on, \
         created_at, scope, scope_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id.clone())
    .bind(a.workspace_id.clone())
    .bind(a.kind.key().to_string())
    .bind(a.percent.map(i64::from))
    .bind(day_str(a.cycle.start))
    .bind(day_str(a.cycle.end))
    .bind(a.used)
    .bind(a.granted)
    .bind(a.runs_out_on.map(day_str))
    .bind(a.created_at.timestamp_millis())
    .bind(a.scope_name().to_string())
    .bind(a.scope_id().map(str::to_string))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO webhook_outbox (request_id, payload, next_attempt_at) VALUES ($1, $2, $3)",
    )
    .bind(a.id.clone())
    .bind(a.payload(&ws.name))
    .bind(Utc::now().timestamp_millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn alert_from_row(r: &sqlx::any::AnyRow) -> StoreResult<(Alert, Delivery)> {
    let kind: String = r.try_get("kind")?;
    let day = |col: &str| -> StoreResult<NaiveDate> {
        let s: String = r.try_get(col)?;
        NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    let runs_out_on: Option<String> = r.try_get("runs_out_on")?;
    let created: i64 = r.try_get("created_at")?;
    let delivered: Option<i64> = r.try_get("delivered_at")?;
    let percent: Option<i64> = r.try_get("percent")?;
    let start = day("cycle_start")?;
    let scope: String = r.try_get("scope")?;
    let scope_id: Option<String> = r.try_get("scope_id")?;
    Ok((
        Alert {
            id: r.try_get("id")?,
            workspace_id: r.try_get("workspace_id")?,
            kind: AlertKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("alert kind {kind}")))?,
            percent: percent.and_then(|p| u8::try_from(p).ok()),
            cycle: BillingCycle::containing(start),
            used: r.try_get("used")?,
            granted: r.try_get("granted")?,
            runs_out_on: runs_out_on
                .map(|s| NaiveDate::parse_from_str(&s, "%Y-%m-%d"))
                .transpose()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            created_at: from_ms(created)?,
            scope: Scope::parse(&scope).zip(scope_id),
        },
        Delivery {
            created_ms: created,
            attempts: r.try_get::<Option<i64>, _>("attempts")?.unwrap_or(0),
            delivered_at: delivered.map(from_ms).transpose()?,
            last_error: r.try_get("last_error")?,
        },
    ))
}

impl super::db::Store {
    /// A workspace's alerts, newest first, after the cursor
    /// `(created_at_ms, id)`; `cycle_start` narrows to one cycle.
    pub async fn alerts(
        &self,
        ws: &str,
        limit: i64,
        before: Option<(i64, String)>,
        cycle_start: Option<NaiveDate>,
    ) -> StoreResult<Vec<(Alert, Delivery)>> {
        let mut sql = String::from(
            "SELECT a.id, a.workspace_id, a.kind, a.percent, a.cycle_start, a.used, a.granted, a.runs_out_on, \
             a.created_at, a.scope, a.scope_id, o.attempts, o.delivered_at, o.last_error \
             FROM alerts a LEFT JOIN webhook_outbox o ON o.request_id = a.id WHERE a.workspace_id = $1",
        );
        let mut n = 1;
        if before.is_some() {
            sql.push_str(" AND (a.created_at < $2 OR (a.created_at = $2 AND a.id < $3))");
            n = 3;
        }
        if cycle_start.is_some() {
            sql.push_str(&format!(" AND a.cycle_start = ${}", n + 1));
        }
        sql.push_str(&format!(
            " ORDER BY a.created_at DESC, a.id DESC LIMIT {}",
            limit.clamp(1, 101)
        ));
        let mut q = sqlx::query(&sql).bind(ws.to_string());
        if let Some((ms, id)) = before {
            q = q.bind(ms).bind(id);
        }
        if let Some(start) = cycle_start {
            q = q.bind(day_str(start));
        }
        q.fetch_all(&self.pool)
            .await?
            .iter()
            .map(alert_from_row)
            .collect()
    }

    /// The thresholds the cycle starting `start` has reached (and not recovered).
    pub async fn reached_thresholds(
        &self,
        ws: &str,
        start: NaiveDate,
    ) -> StoreResult<std::collections::BTreeSet<u8>> {
        let reached: Option<String> = sqlx::query_scalar(
            "SELECT reached FROM cycles WHERE workspace_id = $1 AND start_day = $2",
        )
        .bind(ws.to_string())
        .bind(day_str(start))
        .fetch_optional(&self.pool)
        .await?;
        Ok(reached.map(|r| parse_set(&r)).unwrap_or_default())
    }

    /// Changes a workspace's alert settings (an admin, from the dashboard),
    /// recorded in the audit log with who changed them. Never fires
    /// anything by itself: the next usage is measured against the new
    /// thresholds.
    pub async fn set_alert_settings(
        &self,
        ws: &str,
        settings: &AlertSettings,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write(|mut tx| async move {
            let r = set_alert_settings_tx(&mut tx, ws, settings, actor, now).await;
            (tx, r)
        })
        .await
    }
}

async fn set_alert_settings_tx(
    conn: &mut AnyConnection,
    ws: &str,
    settings: &AlertSettings,
    actor: &Actor,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let before = super::sql::load_workspace(conn, ws)
        .await?
        .ok_or(StoreError::NotFound)?
        .alerts;
    sqlx::query(
        "UPDATE workspaces SET alert_thresholds = $2, alert_runout = $3, updated_at = $4 WHERE id = $1",
    )
    .bind(ws.to_string())
    .bind(settings.thresholds_text())
    .bind(i64::from(settings.runout_forecast))
    .bind(now.timestamp_millis())
    .execute(&mut *conn)
    .await?;
    let change = Change {
        action: AuditAction::AlertsChanged,
        target_scope: "workspace",
        target_id: ws,
        before: Some(alerts_json(&before)),
        after: Some(alerts_json(settings)),
    };
    super::audit::record(conn, ws, actor, now, change).await
}
