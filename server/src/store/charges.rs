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

use super::alerts::AlertBook;
use super::*;

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
/// workspace) wrote nothing and is answered as refused; any other error
/// fails the whole group.
pub(super) async fn charge_group_tx(
    conn: &mut AnyConnection,
    charges: &[ChargeRequest<'_>],
) -> StoreResult<Vec<StoreResult<ChargeOutcome>>> {
    let mut workspaces: HashMap<&str, Option<Workspace>> = HashMap::new();
    for (ws, _, _, _) in charges {
        if !workspaces.contains_key(ws) {
            workspaces.insert(ws, load_workspace(conn, ws).await?);
        }
    }
    // What exists already with these ids, per workspace.
    let mut ids: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (ws, event, _, _) in charges {
        ids.entry(ws).or_default().push(event.id.as_str());
    }
    let mut records: HashMap<(String, String), Record> = HashMap::new();
    let mut events: HashSet<(String, String)> = HashSet::new();
    let mut known: HashMap<&str, Names> = HashMap::new();
    for (ws, ids) in &ids {
        if workspaces.get(ws).is_some_and(Option::is_some) {
            let named: Vec<&NewEvent> = charges
                .iter()
                .filter(|(w, _, _, _)| w == ws)
                .map(|(_, e, _, _)| *e)
                .collect();
            known.insert(ws, known_references(conn, ws, &named).await?);
            for (id, record) in stored_charges(conn, ws, ids).await? {
                records.insert((ws.to_string(), id), record);
            }
            for id in stored_requests(conn, ws, ids).await?.into_keys() {
                events.insert((ws.to_string(), id));
            }
        }
    }
    // Each cycle spent from, locked in key order.
    let mut books: BTreeMap<(String, NaiveDate), Option<AlertBook>> = BTreeMap::new();
    for (ws_id, _, now, _) in charges {
        if let Some(Some(ws)) = workspaces.get(ws_id) {
            let start = BillingCycle::containing(ws.calendar().local_day(*now)).start;
            books.insert((ws.id.clone(), start), None);
        }
    }
    for ((ws_id, start), book) in &mut books {
        let Some(Some(ws)) = workspaces.get(ws_id.as_str()) else {
            continue;
        };
        ensure_cycle(conn, ws, *start).await?;
        *book = AlertBook::lock(conn, ws_id, *start).await?;
    }

    let mut out = Vec::with_capacity(charges.len());
    let mut spent: BTreeMap<String, Vec<NewEvent>> = BTreeMap::new();
    // The charges created, with their times.
    let mut fresh: Vec<((String, String), i64)> = Vec::new();
    for (ws_id, event, now, render) in charges {
        let Some(Some(ws)) = workspaces.get(ws_id) else {
            out.push(Err(StoreError::NotFound));
            continue;
        };
        if let Some(unknown) = known.get(ws_id).map(|k| unknown_references(k, event)) {
            if !unknown.is_empty() {
                out.push(Err(StoreError::UnknownReferences(unknown)));
                continue;
            }
        }
        let key = (ws.id.clone(), event.id.clone());
        if let Some(record) = records.get(&key) {
            out.push(if record.request == event.request {
                Ok(ChargeOutcome::Replayed(record.body.clone()))
            } else {
                Err(StoreError::Conflict(format!(
                    "charge {} exists with another body",
                    event.id
                )))
            });
            continue;
        }
        if events.contains(&key) {
            out.push(Err(StoreError::Conflict(format!(
                "an event {} exists already",
                event.id
            ))));
            continue;
        }
        let Some((action, credits)) = event.credits else {
            return Err(StoreError::Corrupt("a charge without credits".into()));
        };
        let start = BillingCycle::containing(ws.calendar().local_day(*now)).start;
        let Some(Some(book)) = books.get_mut(&(ws.id.clone(), start)) else {
            return Err(StoreError::Corrupt(format!(
                "the cycle starting {start} has no row"
            )));
        };
        if book.left() < credits {
            out.push(Ok(ChargeOutcome::Insufficient {
                credits_left: book.left(),
            }));
            continue;
        }
        book.spend(credits);
        book.decide(conn, ws, *now, true).await?;
        let body = render(&Charged {
            event,
            action,
            credits,
            occurred_at: *now,
            credits_left: book.left(),
        });
        records.insert(
            key.clone(),
            Record {
                request: event.request.clone(),
                body: body.clone(),
            },
        );
        events.insert(key.clone());
        fresh.push((key, now.timestamp_millis()));
        spent.entry(ws.id.clone()).or_default().push(NewEvent {
            occurred_at: *now,
            ..(*event).clone()
        });
        out.push(Ok(ChargeOutcome::Created(body)));
    }

    // Write: the cycle rows (spending and alerts), the events with their
    // rollups, the charge records.
    for ((ws_id, _), book) in books {
        if let (Some(book), Some(Some(ws))) = (book, workspaces.get(ws_id.as_str())) {
            book.close(conn, ws).await?;
        }
    }
    for (ws_id, mut list) in spent {
        let Some(Some(ws)) = workspaces.get(ws_id.as_str()) else {
            continue;
        };
        list.sort_by(|a, b| a.id.cmp(&b.id));
        let refs: Vec<&NewEvent> = list.iter().collect();
        let mut deltas = insert_events(conn, ws, &refs).await?;
        // The spending is already on the cycle row.
        deltas.cycle_used.clear();
        deltas.apply(conn, ws).await?;
    }
    let rows: Vec<(&(String, String), i64, &Record)> = fresh
        .iter()
        .filter_map(|(k, at)| records.get(k).map(|r| (k, *at, r)))
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
    Ok(out)
}

/// One charge in the caller's transaction.
pub(super) async fn charge_tx(
    conn: &mut AnyConnection,
    ws_id: &str,
    event: &NewEvent,
    now: DateTime<Utc>,
    render: RenderCharge,
) -> StoreResult<ChargeOutcome> {
    charge_group_tx(conn, &[(ws_id, event, now, render)])
        .await?
        .pop()
        .unwrap_or_else(|| Err(StoreError::Corrupt("a charge without an answer".into())))
}

/// The charge records among `ids`: id → request and response.
async fn stored_charges(
    conn: &mut AnyConnection,
    ws: &str,
    ids: &[&str],
) -> StoreResult<HashMap<String, Record>> {
    let mut found = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, request, response FROM charges WHERE workspace_id = $1 AND id IN ({})",
            values_list(chunk.len(), 2)
        );
        let sql = placeholders_for(conn, &sql);
        let mut q = sqlx::query(&sql).bind(ws.to_string());
        for id in chunk {
            q = q.bind(id.to_string());
        }
        for row in q.fetch_all(&mut *conn).await? {
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
