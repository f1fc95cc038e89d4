//! Limits in the app (PRODUCT.md, "Limits"): every member's own meter
//! under the header with **Request more**, and the Plan tab's Limits
//! section (admins set, change and remove limits and decide requests
//! there; members see their own row) with the audit log for admins. Every
//! change goes through one server function, which checks the viewer's
//! role on the server.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::errors::form_message;
use super::form::Submitted;
use super::header::OverviewResource;
use crate::format::{fixed, thousands};
use crate::model::{AuditItem, LimitRequestItem, LimitRow, LimitsInfo};
use crate::rpc::{ChangeLimits, GetAuditPage};

/// The limit's mode in plain words.
pub fn mode_words(mode: &str) -> &'static str {
    if mode == "hard" {
        "Charges stop at your limit."
    } else {
        "Your admins are told when you pass it."
    }
}

/// The meter's sentence.
pub fn meter_text(r: &LimitRow) -> String {
    format!(
        "You have used {} of your {} credits this cycle",
        thousands(r.used),
        thousands(r.effective)
    )
}

/// A request's state in a sentence, as its member reads it.
pub fn request_text(r: &LimitRequestItem) -> String {
    match (r.status.as_str(), &r.decision) {
        ("pending", _) => format!(
            "Your request for {} more credits is pending (sent {}).",
            thousands(r.credits),
            r.created_local
        ),
        ("approved", Some((by, credits, note, _))) => format!(
            "{by} approved {} more credits{}",
            thousands(credits.unwrap_or(r.credits)),
            note_suffix(note)
        ),
        ("denied", Some((by, _, note, _))) => format!(
            "{by} declined your request for {} more credits{}",
            thousands(r.credits),
            note_suffix(note)
        ),
        _ => format!(
            "Your request for {} more credits expired with its cycle.",
            thousands(r.credits)
        ),
    }
}

fn note_suffix(note: &str) -> String {
    if note.is_empty() {
        ".".into()
    } else {
        format!(": “{note}”")
    }
}

fn bar_width(r: &LimitRow) -> String {
    format!("width: {}%", fixed(r.closeness() as f64 / 10.0, 1))
}

/// The one action every limits form dispatches; its success reloads the
/// overview (the meter, the table, the log).
fn change_action() -> ServerAction<ChangeLimits> {
    let overview = expect_context::<OverviewResource>();
    let action = ServerAction::<ChangeLimits>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            overview.refetch();
        }
    });
    action
}

/// Dispatches the submitted form's fields.
fn dispatch(action: ServerAction<ChangeLimits>, ev: leptos::ev::SubmitEvent) {
    let f = Submitted::take(&ev);
    action.dispatch(ChangeLimits {
        op: f.get("op").unwrap_or_default(),
        scope: f.get("scope"),
        id: f.get("id"),
        credits: f.get("credits"),
        mode: f.get("mode"),
        note: f.get("note"),
        overage: f.get("overage"),
    });
}

fn outcome(action: ServerAction<ChangeLimits>, done: &'static str) -> impl IntoView {
    move || match action.value().get() {
        Some(Ok(())) => Some(view! { <p class="sent" role="status">{done}</p> }.into_any()),
        Some(Err(e)) => {
            Some(view! { <p class="form-error" role="alert">{form_message(&e)}</p> }.into_any())
        }
        None => None,
    }
}

/// Under the header on every tab: the viewer's own meter, when a limit
/// applies to them.
#[component]
pub fn LimitMeter() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                overview.await.ok().and_then(|o| {
                    let mine = o.limits.mine.clone()?;
                    Some(view! { <Meter mine request=o.limits.my_request.clone()/> })
                })
            })}
        </Suspense>
    }
}

#[component]
fn Meter(mine: LimitRow, request: Option<LimitRequestItem>) -> impl IntoView {
    let open = RwSignal::new(false);
    let action = change_action();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            open.set(false);
        }
    });
    let pending = request.as_ref().is_some_and(|r| r.status == "pending");
    let class = if mine.reached() {
        "limit-meter reached"
    } else {
        "limit-meter"
    };
    let reached = mine.reached().then(
        || view! { <strong class="limit-reached">"You have reached your limit."</strong> " " },
    );
    view! {
        <section class=class aria-label="Your credit limit" data-testid="limit-meter"
            data-used=mine.used data-effective=mine.effective data-mode=mine.mode.clone()>
            <p>{reached}{meter_text(&mine)} <span class="muted">" · " {mode_words(&mine.mode)}</span></p>
            <div class="bar" class:low=mine.reached() role="progressbar" aria-label="Your credits used"
                aria-valuemin="0" aria-valuemax=mine.effective aria-valuenow=mine.used.min(mine.effective)>
                <div class="fill" style=bar_width(&mine)></div>
            </div>
            {request.map(|r| view! { <p class="muted" data-testid="my-request" data-status=r.status.clone()>{request_text(&r)}</p> })}
            {(!pending).then(|| view! {
                <button type="button" class="secondary" data-testid="request-more"
                    aria-expanded=move || open.get().to_string()
                    on:click=move |_| open.update(|o| *o = !*o)>"Request more"</button>
            })}
            {move || open.get().then(|| view! {
                <form action=ChangeLimits::url() method="post" class="limit-request" data-testid="request-more-form"
                    on:submit=move |ev| dispatch(action, ev)>
                    <input type="hidden" name="op" value="request"/>
                    <label>"Credits" <input type="number" name="credits" min="1" step="1" required inputmode="numeric"/></label>
                    <label>"Why" <input type="text" name="note" maxlength="1000"/></label>
                    <div class="buttons">
                        <button type="submit" disabled=move || action.pending().get()>"Send request"</button>
                        <button type="button" class="secondary" on:click=move |_| open.set(false)>"Cancel"</button>
                    </div>
                </form>
            })}
            {outcome(action, "✓ Request sent to your admins.")}
        </section>
    }
}

/// The Plan tab's Limits section.
#[component]
pub fn LimitsCard(l: LimitsInfo) -> impl IntoView {
    let action = change_action();
    let default = match &l.user_default {
        Some((c, m)) => format!("{} credits ({m})", thousands(*c)),
        None => "none".into(),
    };
    let rows = l.rows.clone();
    let table = if rows.is_empty() {
        view! { <p class="muted" data-testid="no-limits">"No limits are set."</p> }.into_any()
    } else {
        let admin = l.can_edit;
        view! {
            <div class="table-wrap">
                <table class="data limits" data-testid="limits-table">
                    <thead><tr>
                        <th scope="col">"Who"</th><th scope="col">"Limit"</th><th scope="col">"Extra"</th>
                        <th scope="col">"Used"</th><th scope="col">"Left"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! { <Row r admin action/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <div class="card limits" data-testid="limits">
            <h2>"Limits"</h2>
            <p>"Default limit for users: " <strong data-testid="limit-default">{default}</strong>
                " · Overage allowed past the plan: " <strong data-testid="limit-overage">{thousands(l.overage)}</strong> " credits"</p>
            {table}
            {if l.can_edit {
                view! { <AdminForms l=l.clone() action/> }.into_any()
            } else {
                view! { <p class="muted" data-testid="limits-read-only">"Only admins of the workspace can change limits."</p> }.into_any()
            }}
            {outcome(action, "✓ Saved.")}
        </div>
        {l.can_edit.then(|| view! { <AuditLog first=l.audit.clone() more=l.audit_more.clone()/> })}
    }
}

#[component]
fn Row(r: LimitRow, admin: bool, action: ServerAction<ChangeLimits>) -> impl IntoView {
    let who = if r.scope == "campaign" {
        format!("{} (campaign)", r.name)
    } else {
        r.name.clone()
    };
    let source = if r.source == "default" {
        " · default"
    } else {
        ""
    };
    let removable = admin && r.source == "user";
    view! {
        <tr data-scope=r.scope.clone() data-id=r.id.clone() class:reached=r.reached()>
            <th scope="row">{who}
                <div class="bar" class:low=r.reached() aria-hidden="true"><div class="fill" style=bar_width(&r)></div></div>
            </th>
            <td class="num">{thousands(r.credits)} <span class="sub">" " {r.mode.clone()} {source}</span></td>
            <td class="num">{thousands(r.approved_extra)}</td>
            <td class="num" data-testid="limit-used">{thousands(r.used)}</td>
            <td class="num" data-testid="limit-left">{thousands(r.left)}</td>
            {admin.then(|| view! {
                <td>{removable.then(|| view! {
                    <form action=ChangeLimits::url() method="post" on:submit=move |ev| dispatch(action, ev)>
                        <input type="hidden" name="op" value="remove"/>
                        <input type="hidden" name="scope" value=r.scope.clone()/>
                        <input type="hidden" name="id" value=r.id.clone()/>
                        <button type="submit" class="secondary small" aria-label=format!("Remove the limit of {}", r.name)>"Remove"</button>
                    </form>
                })}</td>
            })}
        </tr>
    }
}

#[component]
fn AdminForms(l: LimitsInfo, action: ServerAction<ChangeLimits>) -> impl IntoView {
    let default_credits = l
        .user_default
        .as_ref()
        .map(|(c, _)| c.to_string())
        .unwrap_or_default();
    let default_soft = l.user_default.as_ref().is_some_and(|(_, m)| m == "soft");
    let pending = l.pending.clone();
    view! {
        {(!pending.is_empty()).then(|| view! {
            <h3>"Requests for more"</h3>
            <ul class="limit-requests" data-testid="pending-requests">
                {pending.into_iter().map(|r| view! { <Pending r action/> }).collect_view()}
            </ul>
        })}
        <form action=ChangeLimits::url() method="post" class="limit-form" data-testid="set-limit"
            on:submit=move |ev| dispatch(action, ev)>
            <input type="hidden" name="op" value="set"/>
            <fieldset>
                <legend>"Set a limit"</legend>
                <label>"For"
                    <select name="scope" required>
                        {l.targets.iter().map(|(scope, id, name)| {
                            let label = if scope == "campaign" { format!("{name} (campaign)") } else { name.clone() };
                            view! { <option value=format!("{scope}:{id}")>{label}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Credits per cycle" <input type="number" name="credits" min="0" step="1" required inputmode="numeric"/></label>
                <ModeSelect soft=false/>
                <button type="submit" disabled=move || action.pending().get()>"Set limit"</button>
            </fieldset>
        </form>
        <form action=ChangeLimits::url() method="post" class="limit-form" data-testid="limit-settings"
            on:submit=move |ev| dispatch(action, ev)>
            <input type="hidden" name="op" value="settings"/>
            <fieldset>
                <legend>"Default for users, and overage"</legend>
                <label>"Default limit (empty: none)" <input type="number" name="credits" min="0" step="1" inputmode="numeric" value=default_credits/></label>
                <ModeSelect soft=default_soft/>
                <label>"Overage past the plan" <input type="number" name="overage" min="0" step="1" inputmode="numeric" value=l.overage.to_string()/></label>
                <button type="submit" disabled=move || action.pending().get()>"Save"</button>
            </fieldset>
        </form>
    }
}

#[component]
fn ModeSelect(soft: bool) -> impl IntoView {
    view! {
        <label>"When reached"
            <select name="mode">
                <option value="hard" selected=!soft>"Stop charges"</option>
                <option value="soft" selected=soft>"Only tell admins"</option>
            </select>
        </label>
    }
}

#[component]
fn Pending(r: LimitRequestItem, action: ServerAction<ChangeLimits>) -> impl IntoView {
    let reason = if r.reason.is_empty() {
        String::new()
    } else {
        format!(": “{}”", r.reason)
    };
    view! {
        <li data-request-id=r.id.clone()>
            <p><strong>{r.user_name.clone()}</strong> " asks for " {thousands(r.credits)} " more credits" {reason}
                <span class="muted">" · " {r.created_local.clone()}</span></p>
            <form action=ChangeLimits::url() method="post" class="decision" on:submit=move |ev| dispatch(action, ev)>
                <input type="hidden" name="id" value=r.id.clone()/>
                <label>"Credits" <input type="number" name="credits" min="1" step="1" inputmode="numeric" value=r.credits.to_string()/></label>
                <label>"Note" <input type="text" name="note" maxlength="1000"/></label>
                <label>"Decision"
                    <select name="op">
                        <option value="approve">"Approve"</option>
                        <option value="deny">"Deny"</option>
                    </select>
                </label>
                <button type="submit" disabled=move || action.pending().get()>"Decide"</button>
            </form>
        </li>
    }
}

/// The audit log, newest first, a page at a time.
#[component]
fn AuditLog(first: Vec<AuditItem>, more: Option<String>) -> impl IntoView {
    let entries = RwSignal::new(first);
    let next = RwSignal::new(more);
    let older = ServerAction::<GetAuditPage>::new();
    Effect::new(move |_| {
        if let Some(Ok(page)) = older.value().get() {
            entries.update(|e| e.extend(page.entries));
            next.set(page.more);
        }
    });
    view! {
        <div class="card audit" data-testid="audit-log">
            <h2>"Audit log"</h2>
            {move || if entries.with(Vec::is_empty) {
                view! { <p class="muted">"No changes yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="audit-list">
                        {entries.get().into_iter().map(|e| view! {
                            <li data-audit-id=e.id.clone()>
                                <span class="what">{e.what.clone()}</span>
                                <span class="muted">{e.actor.clone()} " · " {e.at_local.clone()}</span>
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
            {move || next.get().map(|after| view! {
                <button type="button" class="secondary" data-testid="audit-older"
                    disabled=move || older.pending().get()
                    on:click=move |_| { older.dispatch(GetAuditPage { after: after.clone() }); }>"Show older"</button>
            })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(used: i64, effective: i64) -> LimitRow {
        LimitRow {
            scope: "user".into(),
            id: "u".into(),
            name: "Samara".into(),
            credits: effective,
            mode: "hard".into(),
            source: "user".into(),
            approved_extra: 0,
            effective,
            used,
            left: (effective - used).max(0),
        }
    }

    #[test]
    fn the_meter_reads_as_the_product_says() {
        assert_eq!(
            meter_text(&row(1_840, 2_000)),
            "You have used 1,840 of your 2,000 credits this cycle"
        );
        assert_eq!(mode_words("hard"), "Charges stop at your limit.");
        assert_eq!(mode_words("soft"), "Your admins are told when you pass it.");
        assert_eq!(bar_width(&row(1_840, 2_000)), "width: 92.0%");
        assert_eq!(bar_width(&row(3_000, 2_000)), "width: 100.0%");
    }

    #[test]
    fn requests_read_by_status() {
        let mut r = LimitRequestItem {
            id: "lr_1".into(),
            user_id: "u".into(),
            user_name: "Samara".into(),
            credits: 500,
            reason: String::new(),
            status: "pending".into(),
            created_local: "24 Nov 2026, 11:00 CET".into(),
            decision: None,
        };
        assert_eq!(
            request_text(&r),
            "Your request for 500 more credits is pending (sent 24 Nov 2026, 11:00 CET)."
        );
        r.status = "approved".into();
        r.decision = Some(("Laura".into(), Some(300), "ok".into(), "x".into()));
        assert_eq!(request_text(&r), "Laura approved 300 more credits: “ok”");
    }
}
