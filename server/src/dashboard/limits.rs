//! The dashboard's limits (PRODUCT.md, "Limits"): the viewer's own meter,
//! the Plan tab's Limits section and audit log as the viewer may see them,
//! and the changes members and admins make there. Admin-only changes are
//! refused here, on the server, whatever the page offered.

use app::domain::limits::{LimitChange, LimitSettings, Scope};
use app::error::DashboardError;
use app::format::{local_time, thousands};
use app::model::{AuditItem, AuditPage, LimitRequestItem, LimitRow, LimitsInfo};
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::store::{
    Actor, AuditEntry, LimitRequest, Names, NewLimitRequest, RequestStatus, ScopeLimit, Store,
    StoreError, Verdict, Workspace,
};

/// Audit entries on the Plan tab, and per page after it.
const AUDIT_PAGE: i64 = 20;

fn row(r: &ScopeLimit, names: &Names) -> LimitRow {
    LimitRow {
        scope: r.scope.as_str().to_string(),
        id: r.id.clone(),
        name: name_of(names, r.scope, &r.id),
        credits: r.limit.credits,
        mode: r.limit.mode.as_str().to_string(),
        source: r.source.as_str().to_string(),
        approved_extra: r.approved_extra,
        effective: r.effective,
        used: r.used,
        left: r.left,
    }
}

fn name_of(names: &Names, scope: Scope, id: &str) -> String {
    let found = match scope {
        Scope::User => names.users.get(id).cloned(),
        Scope::Campaign => names.campaigns.get(id).map(|(n, _)| n.clone()),
    };
    found.unwrap_or_else(|| id.to_string())
}

fn actor_name(names: &Names, actor: &Actor) -> String {
    match actor {
        Actor::Platform => "the platform".into(),
        Actor::User(id) => name_of(names, Scope::User, id),
    }
}

fn request_item(r: &LimitRequest, names: &Names, ws: &Workspace) -> LimitRequestItem {
    LimitRequestItem {
        id: r.id.clone(),
        user_id: r.user_id.clone(),
        user_name: name_of(names, Scope::User, &r.user_id),
        credits: r.credits,
        reason: r.reason.clone(),
        status: r.status.as_str().to_string(),
        created_local: local_time(r.created_at, ws.tz),
        decision: r.decision.as_ref().map(|d| {
            (
                actor_name(names, &d.by),
                d.credits,
                d.note.clone(),
                local_time(d.at, ws.tz),
            )
        }),
    }
}

/// The limits part of the overview, as `user` (an `admin` or not) may see it.
pub async fn limits_info(
    store: &Store,
    ws: &Workspace,
    user: Option<&str>,
    admin: bool,
    now: DateTime<Utc>,
) -> Result<LimitsInfo, StoreError> {
    let overview = store.limits_overview(ws, now).await?;
    let names = store.names(&ws.id).await?;
    let mut rows: Vec<LimitRow> = overview
        .users
        .iter()
        .chain(&overview.campaigns)
        .map(|r| row(r, &names))
        .collect();
    rows.sort_by(|a, b| {
        b.closeness()
            .cmp(&a.closeness())
            .then_with(|| a.name.cmp(&b.name))
    });
    let mine = user.and_then(|u| {
        rows.iter()
            .find(|r| r.scope == "user" && r.id == u)
            .cloned()
    });
    if !admin {
        rows.retain(|r| r.scope == "user" && Some(r.id.as_str()) == user);
    }
    let my_request = match user {
        Some(u) => store
            .limit_requests(ws, None, Some(u), 1, None, now)
            .await?
            .unwrap_or_default()
            .first()
            .map(|r| request_item(r, &names, ws)),
        None => None,
    };
    let mut info = LimitsInfo {
        mine,
        my_request,
        can_edit: admin,
        user_default: overview
            .user_default
            .map(|l| (l.credits, l.mode.as_str().to_string())),
        overage: overview.overage,
        rows,
        ..LimitsInfo::default()
    };
    if admin {
        info.pending = store
            .limit_requests(ws, Some(RequestStatus::Pending), None, 100, None, now)
            .await?
            .unwrap_or_default()
            .iter()
            .map(|r| request_item(r, &names, ws))
            .collect();
        let mut targets: Vec<(String, String, String)> = names
            .users
            .iter()
            .map(|(id, n)| ("user".into(), id.clone(), n.clone()))
            .chain(
                names
                    .campaigns
                    .iter()
                    .map(|(id, (n, _))| ("campaign".into(), id.clone(), n.clone())),
            )
            .collect();
        targets.sort_by(|a, b| (&a.0, &a.2, &a.1).cmp(&(&b.0, &b.2, &b.1)));
        info.targets = targets;
        let page = audit(store, ws, &names, None).await?;
        info.audit = page.entries;
        info.audit_more = page.more;
    }
    Ok(info)
}

async fn audit(
    store: &Store,
    ws: &Workspace,
    names: &Names,
    after: Option<&str>,
) -> Result<AuditPage, StoreError> {
    let Some(mut entries) = store.audit_log(&ws.id, AUDIT_PAGE + 1, after).await? else {
        return Ok(AuditPage::default());
    };
    let more = entries.len() as i64 > AUDIT_PAGE;
    entries.truncate(AUDIT_PAGE as usize);
    Ok(AuditPage {
        more: if more {
            entries.last().map(|e| e.id.clone())
        } else {
            None
        },
        entries: entries
            .iter()
            .map(|e| AuditItem {
                id: e.id.clone(),
                at_local: local_time(e.at, ws.tz),
                actor: actor_name(names, &e.actor),
                what: audit_sentence(e, names),
            })
            .collect(),
    })
}

/// The audit log's entries after `after` (admins only).
pub async fn audit_page(
    store: &Store,
    ws: &Workspace,
    user: Option<&str>,
    after: &str,
) -> Result<String, DashboardError> {
    require_admin(store, &ws.id, user).await?;
    let names = store.names(&ws.id).await?;
    let page = audit(store, ws, &names, Some(after)).await?;
    Ok(app::ui::server::limits::audit_html(&page))
}

async fn require_admin(store: &Store, ws: &str, user: Option<&str>) -> Result<(), DashboardError> {
    if store.is_admin(ws, user).await? {
        Ok(())
    } else {
        Err(DashboardError::refused(
            403,
            "Only admins of the workspace can change limits or decide requests.",
        ))
    }
}

/// Makes `change` as `user`: a member only asks for more for themselves.
pub async fn change(
    store: &Store,
    ws: &str,
    user: Option<&str>,
    change: LimitChange,
    now: DateTime<Utc>,
) -> Result<(), DashboardError> {
    if change.admin_only() {
        require_admin(store, ws, user).await?;
    }
    let Some(user) = user else {
        return Err(DashboardError::SessionEnded);
    };
    let actor = Actor::User(user.to_string());
    let done = match change {
        LimitChange::Request { credits, reason } => store
            .create_limit_request(
                ws,
                &NewLimitRequest {
                    id: None,
                    user_id: user.to_string(),
                    credits,
                    reason,
                    request: String::new(),
                },
                now,
            )
            .await
            .map(drop),
        LimitChange::Set { scope, id, limit } => store
            .set_limit(ws, scope, &id, Some(limit), &actor, now)
            .await
            .map(drop),
        LimitChange::Remove { scope, id } => store
            .set_limit(ws, scope, &id, None, &actor, now)
            .await
            .map(drop),
        LimitChange::Decide {
            request_id,
            approve,
            credits,
            note,
        } => {
            let verdict = if approve {
                Verdict::Approve(credits)
            } else {
                Verdict::Deny
            };
            store
                .decide_limit_request(ws, &request_id, &verdict, &note, &actor, now)
                .await
                .map(drop)
        }
        LimitChange::Settings {
            user_default,
            overage,
        } => {
            let settings = LimitSettings {
                user_default,
                overage,
            };
            store.set_limit_settings(ws, settings, &actor, now).await
        }
    };
    Ok(done?)
}

/// A limit (`{"credits", "mode"}`) in words.
fn limit_words(v: &Value) -> String {
    match (
        v.get("credits").and_then(Value::as_i64),
        v.get("mode").and_then(Value::as_str),
    ) {
        (Some(c), Some(m)) => format!("{} ({m})", thousands(c)),
        _ => "none".into(),
    }
}

/// What an audit entry changed, in a sentence.
pub fn audit_sentence(e: &AuditEntry, names: &Names) -> String {
    let none = Value::Null;
    let before = e.before.as_ref().unwrap_or(&none);
    let after = e.after.as_ref().unwrap_or(&none);
    let target = || match Scope::parse(&e.target_scope) {
        Some(scope) => name_of(names, scope, &e.target_id),
        None => e.target_id.clone(),
    };
    match e.action.as_str() {
        "plan.changed" => {
            let plan = |p: &Value| {
                format!(
                    "{} ({} credits a month)",
                    p["name"].as_str().unwrap_or("?"),
                    thousands(p["monthly_credits"].as_i64().unwrap_or(0))
                )
            };
            format!("Changed the plan: {} → {}", plan(before), plan(after))
        }
        "alerts.changed" => {
            let t = |a: &Value| {
                let list: Vec<String> = a["thresholds"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(Value::as_i64)
                            .map(|p| format!("{p}%"))
                            .collect()
                    })
                    .unwrap_or_default();
                let runout = if a["runout_forecast"].as_bool() == Some(true) {
                    "run-out forecast on"
                } else {
                    "run-out forecast off"
                };
                format!(
                    "{} · {runout}",
                    if list.is_empty() {
                        "no thresholds".into()
                    } else {
                        list.join(", ")
                    }
                )
            };
            format!("Changed the alerts: {} → {}", t(before), t(after))
        }
        "limits.changed" => format!(
            "Changed the default limit: {} → {}; overage {} → {}",
            limit_words(&before["user_default"]),
            limit_words(&after["user_default"]),
            thousands(before["overage"].as_i64().unwrap_or(0)),
            thousands(after["overage"].as_i64().unwrap_or(0))
        ),
        "limit.set" => format!(
            "Set the limit of {}: {} → {}",
            target(),
            limit_words(before),
            limit_words(after)
        ),
        "limit.removed" => format!(
            "Removed the limit of {} (was {})",
            target(),
            limit_words(before)
        ),
        "limit_request.decided" => {
            let who = name_of(names, Scope::User, after["user_id"].as_str().unwrap_or(""));
            let asked = thousands(after["credits"].as_i64().unwrap_or(0));
            match after["decision"]["credits"].as_i64() {
                Some(c) => format!(
                    "Approved {who}'s request for {asked} credits with {}",
                    thousands(c)
                ),
                None => format!("Denied {who}'s request for {asked} credits"),
            }
        }
        other => other.to_string(),
    }
}
