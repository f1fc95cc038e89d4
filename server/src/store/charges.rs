//! Charges: atomic check-and-spend, decided for a whole group at once.
//!
//! A group of charges (one, or up to [`super::writes`]'s group size) runs
//! in one transaction with a fixed number of statements, whatever its
//! size: it reads what exists already with these ids, locks each cycle it
//! spends from (in key order, so that concurrent groups cannot deadlock),
//! decides every charge in memory one after another exactly as each would
//! run alone (balance, replays, conflicts, alerts), then writes the
//! events, the rollups, the cycle rows and the charge records with
//! multi-row statements.

use std::collections::BTreeSet;

use app::domain::limits::{decide_charge, ChargeDecision, Refusal, WorkspaceFigures};

use super::alerts::AlertBook;
use super::cycles::ensure_cycle;
use super::db::ms;
use super::ledger::{insert_events, rows_with_ids, stored_digests};
use super::limits::{scopes_of, LimitBook, ScopeKey};
use super::prelude::*;

/// One charge of a group: the workspace's id, the event, the time, and
/// how the API renders its body.
pub(super) type ChargeRequest<'a> = (&'a str, &'a NewEvent, DateTime<Utc>, RenderCharge);

/// A charge record: its request and its response body.
struct Record {
    request: String,
    body: serde_json::Value,
}

/// Charges one after another in one transaction, exactly as each would
/// run alone. A charge refused for its content (a conflict, an unknown
/// workspace or reference) wrote nothing and is answered as refused; any
/// other error fails the whole group.
pub(super) async fn charge_group_tx(
    conn: &mut AnyConnection,
    charges: &[ChargeRequest<'_>],
) -> StoreResult<Vec<StoreResult<ChargeOutcome>>> {
    // Every statement here finds its rows by a primary key: one plan each.
    let started = std::time::Instant::now();
    plan_once(conn).await?;
    let mut group = Group::read(conn, charges).await?;
    let read = started.elapsed();
    group.lock(conn, charges).await?;
    let locked = started.elapsed();
    let mut out = Vec::with_capacity(charges.len());
    for charge in charges {
        out.push(group.decide(conn, charge).await?);
    }
    let decided = started.elapsed();
    group.write(conn).await?;
    tracing::debug!(
        target: "credits::charges",
        read_ms = ms(read),
        lock_ms = ms(locked - read),
        decide_ms = ms(decided - locked),
        write_ms = ms(started.elapsed() - decided),
        "charge group's body"
    );
    Ok(out)
}

/// What a group of charges knows: read first, then grown by each charge
/// decided, then written at once.
#[derive(Default)]
struct Group<'a> {
    workspaces: HashMap<&'a str, Option<Workspace>>,
    /// The users, campaigns and identities the charges name, per workspace.
    known: HashMap<&'a str, Names>,
    /// Charge records by (workspace, id): stored, or made by this group.
    records: HashMap<(String, String), Record>,
    /// Event ids by (workspace, id): stored, or made by this group.
    events: HashSet<(String, String)>,
    /// Each cycle spent from, by (workspace, start), locked in key order.
    books: BTreeMap<(String, NaiveDate), Option<AlertBook>>,
    /// The limits that apply to the users and campaigns charged, and
    /// their figures in the cycles locked, per workspace.
    limits: HashMap<&'a str, LimitBook>,
    /// The users and campaigns the charges name, per workspace.
    scopes: HashMap<&'a str, BTreeSet<ScopeKey>>,
    /// The events to write, per workspace.
    spent: BTreeMap<String, Vec<NewEvent>>,
    /// The charges made, with their times.
    fresh: Vec<((String, String), i64)>,
}

impl<'a> Group<'a> {
    /// Reads the workspaces, the references the charges name, and the
    /// charges and events that already have their ids.
    async fn read(conn: &mut AnyConnection, charges: &[ChargeRequest<'a>]) -> StoreResult<Self> {
        let mut group = Group::default();
        let mut named: BTreeMap<&str, Vec<&NewEvent>> = BTreeMap::new();
        for (ws, event, _, _) in charges {
            if !group.workspaces.contains_key(ws) {
                group.workspaces.insert(ws, load_workspace(conn, ws).await?);
            }
            named.entry(ws).or_default().push(event);
        }
        for (ws, events) in named {
            if !group.workspaces.get(ws).is_some_and(Option::is_some) {
                continue;
            }
            group
                .known
                .insert(ws, known_references(conn, ws, &events).await?);
            let scopes: BTreeSet<ScopeKey> = events.iter().flat_map(|e| scopes_of(e)).collect();
            if let Some(Some(workspace)) = group.workspaces.get(ws) {
                let book = LimitBook::read(conn, workspace, &scopes).await?;
                group.limits.insert(ws, book);
            }
            group.scopes.insert(ws, scopes);
            let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
            for (id, record) in stored_charges(conn, ws, &ids).await? {
                group.records.insert((ws.to_string(), id), record);
            }
            for id in stored_digests(conn, ws, &ids).await?.into_keys() {
                group.events.insert((ws.to_string(), id));
            }
        }
        Ok(group)
    }

    /// Makes sure of, and locks, each cycle the charges may spend from, in
    /// key order (so that concurrent groups cannot deadlock).
    async fn lock(
        &mut self,
        conn: &mut AnyConnection,
        charges: &[ChargeRequest<'a>],
    ) -> StoreResult<()> {
        for (ws_id, _, now, _) in charges {
            if let Some(Some(ws)) = self.workspaces.get(ws_id) {
                self.books
                    .insert((ws.id.clone(), cycle_start(ws, *now)), None);
            }
        }
        for ((ws_id, start), book) in &mut self.books {
            let Some(Some(ws)) = self.workspaces.get(ws_id.as_str()) else {
                continue;
            };
            // A cycle's row is missing only before its first charge: lock
            // it, and make it only where it is missing (one statement less
            // per group: 1,952 and 2,390 charges/s before, 2,350 and 2,538
            // after, at `--scale 0.1` on one database, runs alternated).
            *book = AlertBook::lock(conn, ws_id, *start).await?;
            if book.is_none() {
                ensure_cycle(conn, ws, *start).await?;
                *book = AlertBook::lock(conn, ws_id, *start).await?;
            }
            // Under the cycle's lock: the limited scopes' figures.
            if let (Some(limits), Some(scopes)) = (
                self.limits.get_mut(ws_id.as_str()),
                self.scopes.get(ws_id.as_str()),
            ) {
                limits.load(conn, ws_id, *start, scopes).await?;
            }
        }
        Ok(())
    }

    /// Decides one charge as if it ran alone after the ones before it.
    async fn decide(
        &mut self,
        conn: &mut AnyConnection,
        (ws_id, event, now, render): &ChargeRequest<'a>,
    ) -> StoreResult<StoreResult<ChargeOutcome>> {
        let Some(Some(ws)) = self.workspaces.get(ws_id) else {
            return Ok(Err(StoreError::NotFound));
        };
        if let Some(known) = self.known.get(ws_id) {
            let unknown = unknown_references(known, event);
            if !unknown.is_empty() {
                return Ok(Err(StoreError::UnknownReferences(unknown)));
            }
        }
        let key = (ws.id.clone(), event.id.clone());
        if let Some(record) = self.records.get(&key) {
            return Ok(if record.request == event.request {
                Ok(ChargeOutcome::Replayed(record.body.clone()))
            } else {
                Err(StoreError::Conflict(format!(
                    "charge {} exists with another body",
                    event.id
                )))
            });
        }
        if self.events.contains(&key) {
            return Ok(Err(StoreError::Conflict(format!(
                "an event {} exists already",
                event.id
            ))));
        }
        let Some((action, credits)) = event.credits else {
            return Err(StoreError::Corrupt("a charge without credits".into()));
        };
        let start = cycle_start(ws, *now);
        let Some(Some(book)) = self.books.get_mut(&(ws.id.clone(), start)) else {
            return Err(StoreError::Corrupt(format!(
                "the cycle starting {start} has no row"
            )));
        };
        let Some(limits) = self.limits.get_mut(ws_id) else {
            return Err(StoreError::Corrupt("a charge group without limits".into()));
        };
        let (granted, used) = book.figures();
        let figures = WorkspaceFigures {
            granted,
            overage: ws.limits.overage,
            used,
        };
        let campaign = event
            .campaign_id
            .as_ref()
            .map(|c| (Scope::Campaign, c.clone()));
        let user = (Scope::User, event.user_id.clone());
        let figures_of =
            |key: &Option<ScopeKey>| key.as_ref().and_then(|k| limits.figures(start, k));
        let decision = decide_charge(
            credits,
            figures,
            figures_of(&campaign),
            figures_of(&Some(user.clone())),
        );
        let warnings = match decision {
            ChargeDecision::Refused(Refusal::Workspace) => {
                return Ok(Ok(ChargeOutcome::Insufficient {
                    credits_left: figures.left(),
                }));
            }
            ChargeDecision::Refused(Refusal::Scope(scope)) => {
                let key = if scope == Scope::Campaign {
                    campaign
                } else {
                    Some(user)
                };
                let Some((key, f)) = key.and_then(|k| limits.figures(start, &k).map(|f| (k, f)))
                else {
                    return Err(StoreError::Corrupt("a refusal without its limit".into()));
                };
                limits.check(book, ws, *now, start, &key, true);
                return Ok(Ok(ChargeOutcome::LimitReached {
                    credits_left: figures.left(),
                    hit: LimitHit {
                        scope,
                        id: key.1,
                        limit: f.limit,
                        effective: f.effective(),
                        used: f.used,
                        left: f.left(),
                    },
                }));
            }
            ChargeDecision::Accepted { warnings } => warnings,
        };
        book.spend(credits);
        limits.spend(start, event, credits);
        book.decide(conn, ws, *now, true).await?;
        let mut passed = Vec::new();
        for key in [campaign, Some(user)].into_iter().flatten() {
            limits.check(book, ws, *now, start, &key, false);
            if let Some(f) = limits.figures(start, &key) {
                if warnings.contains(&key.0) {
                    passed.push(LimitWarning {
                        scope: key.0,
                        id: key.1,
                        credits: f.limit.credits,
                        effective: f.effective(),
                        used: f.used,
                    });
                }
            }
        }
        let (granted, used) = book.figures();
        let credits_left = WorkspaceFigures {
            granted,
            overage: ws.limits.overage,
            used,
        }
        .left();
        let body = render(&Charged {
            event,
            action,
            credits,
            occurred_at: *now,
            credits_left,
            warnings: &passed,
        });
        self.records.insert(
            key.clone(),
            Record {
                request: event.request.clone(),
                body: body.clone(),
            },
        );
        self.events.insert(key.clone());
        self.fresh.push((key, now.timestamp_millis()));
        self.spent.entry(ws.id.clone()).or_default().push(NewEvent {
            occurred_at: *now,
            ..(*event).clone()
        });
        Ok(Ok(ChargeOutcome::Created(body)))
    }

    /// Writes the cycle rows (spending and alerts), the events with their
    /// rollups, and the charge records.
    async fn write(self, conn: &mut AnyConnection) -> StoreResult<()> {
        let workspace = |id: &str| self.workspaces.get(id).and_then(Option::as_ref);
        for ((ws_id, _), book) in self.books {
            if let (Some(book), Some(ws)) = (book, workspace(&ws_id)) {
                book.close(conn, ws).await?;
            }
        }
        for (ws_id, limits) in self.limits {
            limits.write(conn, ws_id).await?;
        }
        for (ws_id, mut list) in self.spent {
            let Some(ws) = workspace(&ws_id) else {
                continue;
            };
            list.sort_by(|a, b| a.id.cmp(&b.id));
            let refs: Vec<&NewEvent> = list.iter().collect();
            let mut deltas = insert_events(conn, ws, &refs).await?;
            // The spending is already on the cycle row.
            deltas.cycle_used.clear();
            deltas.apply(conn, ws).await?;
        }
        let rows: Vec<(&(String, String), i64, &Record)> = self
            .fresh
            .iter()
            .filter_map(|(k, at)| self.records.get(k).map(|r| (k, *at, r)))
            .collect();
        for chunk in rows.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO charges (workspace_id, id, request, response, created_at) VALUES {}",
                values_sql(chunk.len(), 5, 1)
            );
            let mut vals = Vec::with_capacity(chunk.len() * 5);
            for ((ws, id), at, record) in chunk {
                vals.extend([
                    Val::S(ws.clone()),
                    Val::S(id.clone()),
                    Val::S(record.request.clone()),
                    Val::S(record.body.to_string()),
                    Val::I(*at),
                ]);
            }
            exec_values(conn, &sql, vals).await?;
        }
        Ok(())
    }
}

/// The start of the cycle a charge at `now` spends from.
fn cycle_start(ws: &Workspace, now: DateTime<Utc>) -> NaiveDate {
    BillingCycle::containing(ws.calendar().local_day(now)).start
}

/// The charge records among `ids`: id → request and response.
async fn stored_charges(
    conn: &mut AnyConnection,
    ws: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, Record>> {
    let mut found = HashMap::new();
    for row in rows_with_ids(conn, "charges", "id, request, response", ws, ids).await? {
        let response: String = row.try_get("response")?;
        found.insert(
            row.try_get("id")?,
            Record {
                request: row.try_get("request")?,
                body: serde_json::from_str(&response)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            },
        );
    }
    Ok(found)
}

/// The users, campaigns and identities of workspace `ws` that `events`
/// name, in one statement.
async fn known_references(
    conn: &mut AnyConnection,
    ws: &str,
    events: &[&NewEvent],
) -> StoreResult<Names> {
    let users: BTreeSet<&str> = events.iter().map(|e| e.user_id.as_str()).collect();
    let campaigns: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.campaign_id.as_deref())
        .collect();
    let identities: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.identity_id.as_deref())
        .collect();
    let mut parts = Vec::new();
    let mut vals = Vec::new();
    for (kind, table, extra, ids) in [
        ("user", "users", "''", &users),
        ("campaign", "campaigns", "status", &campaigns),
        ("identity", "identities", "user_id", &identities),
    ] {
        if ids.is_empty() {
            continue;
        }
        parts.push(format!(
            "SELECT '{kind}' AS kind, id, name, {extra} AS extra FROM {table} WHERE workspace_id = ${} AND id IN ({})",
            vals.len() + 1,
            values_list(ids.len(), vals.len() + 2)
        ));
        vals.push(Val::S(ws.to_string()));
        vals.extend(ids.iter().map(|id| Val::S(id.to_string())));
    }
    let mut known = Names::default();
    if parts.is_empty() {
        return Ok(known);
    }
    let sql = placeholders_for(conn, &parts.join(" UNION ALL "));
    for row in bind_vals(sqlx::query(&sql), vals)
        .fetch_all(&mut *conn)
        .await?
    {
        let kind: String = row.try_get("kind")?;
        known.add(&kind, &row)?;
    }
    Ok(known)
}

/// The fields of a charge whose ids are not in `known`.
fn unknown_references(known: &Names, event: &NewEvent) -> Vec<&'static str> {
    let mut unknown = Vec::new();
    if !known.has_user(&event.user_id) {
        unknown.push("user_id");
    }
    if event
        .campaign_id
        .as_deref()
        .is_some_and(|c| !known.has_campaign(c))
    {
        unknown.push("campaign_id");
    }
    if event
        .identity_id
        .as_deref()
        .is_some_and(|i| !known.has_identity(i))
    {
        unknown.push("identity_id");
    }
    unknown
}
