//! The limits' HTML: every member's own meter under the header and the
//! Plan tab's Limits section with the audit log for admins, rendered on
//! the server and carried in the overview (`ui/limits.rs` puts them in
//! place; `ui/browser/limits.rs` posts their forms).

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::format::{fixed, thousands};
use crate::model::{AuditItem, AuditPage, LimitRequestItem, LimitRow, LimitsInfo};
use crate::rpc::ChangeLimits;
use crate::ui::limits::mode_words;

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

pub(crate) fn bar_width(r: &LimitRow) -> String {
    format!("width: {}%", fixed(r.closeness() as f64 / 10.0, 1))
}

fn html<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
    super::render(crate::ui::nav::Base::Standalone, view)
}

/// The viewer's meter; empty when no limit applies to them.
pub fn meter_html(l: &LimitsInfo) -> String {
    match l.mine.clone() {
        Some(mine) => {
            let request = l.my_request.clone();
            html(move || view! { <Meter mine request/> })
        }
        None => String::new(),
    }
}

/// The Plan tab's Limits section, and the audit log for admins.
pub fn section_html(l: &LimitsInfo) -> String {
    let l = l.clone();
    html(move || view! { <LimitsCard l/> })
}

/// A page of older audit entries, to put after those shown.
pub fn audit_html(page: &AuditPage) -> String {
    let page = page.clone();
    html(move || view! { <AuditEntries page/> })
}

/// Where a form's outcome is written in the browser.
fn message_slot() -> impl IntoView {
    view! { <p class="form-message" role="status" data-form-message></p> }
}

#[component]
fn Meter(mine: LimitRow, request: Option<LimitRequestItem>) -> impl IntoView {
    let pending = request.as_ref().is_some_and(|r| r.status == "pending");
    let class = if mine.reached() {
        "limit-meter reached"
    } else {
        "limit-meter"
    };
    let reached = mine.reached().then(|| {
        view! { <strong class="limit-reached">"You have reached your limit."</strong> " " }
    });
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
                <details class="request-more">
                    <summary data-testid="request-more">"Request more"</summary>
                    <form action=ChangeLimits::url() method="post" class="limit-request" data-limits data-testid="request-more-form">
                        <input type="hidden" name="op" value="request"/>
                        <label>"Credits" <input type="number" name="credits" min="1" step="1" required inputmode="numeric"/></label>
                        <label>"Why" <input type="text" name="note" maxlength="1000"/></label>
                        <button type="submit">"Send request"</button>
                        {message_slot()}
                    </form>
                </details>
            })}
        </section>
    }
}

#[component]
fn LimitsCard(l: LimitsInfo) -> impl IntoView {
    let default = match &l.user_default {
        Some((c, m)) => format!("{} credits ({m})", thousands(*c)),
        None => "none".into(),
    };
    let rows = l.rows.clone();
    let admin = l.can_edit;
    let table = if rows.is_empty() {
        view! { <p class="muted" data-testid="no-limits">"No limits are set."</p> }.into_any()
    } else {
        view! {
            <div class="table-wrap">
                <table class="data limits" data-testid="limits-table">
                    <caption class="visually-hidden">"Limits this cycle, closest to their limit first"</caption>
                    <thead><tr>
                        <th scope="col">"Who"</th><th scope="col">"Limit"</th><th scope="col" class="extra">"Extra"</th>
                        <th scope="col">"Used"</th><th scope="col">"Left"</th>
                        {admin.then(|| view! { <th scope="col"><span class="visually-hidden">"Actions"</span></th> })}
                    </tr></thead>
                    <tbody>
                        {rows.into_iter().map(|r| view! { <Row r admin/> }).collect_view()}
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
            {if admin {
                view! { <AdminForms l=l.clone()/> }.into_any()
            } else {
                view! { <p class="muted" data-testid="limits-read-only">"Only admins of the workspace can change limits."</p> }.into_any()
            }}
        </div>
        {admin.then(|| view! {
            <div class="card audit" data-testid="audit-log">
                <h2>"Audit log"</h2>
                {if l.audit.is_empty() {
                    view! { <p class="muted">"No changes yet."</p> }.into_any()
                } else {
                    view! { <AuditEntries page=AuditPage { entries: l.audit.clone(), more: l.audit_more.clone() }/> }.into_any()
                }}
            </div>
        })}
    }
}

#[component]
fn Row(r: LimitRow, admin: bool) -> impl IntoView {
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
        <tr data-scope=r.scope.clone() data-id=r.id.clone() data-used=r.used data-left=r.left class:reached=r.reached()>
            <th scope="row">{who}
                <div class="bar" class:low=r.reached() aria-hidden="true"><div class="fill" style=bar_width(&r)></div></div>
            </th>
            <td class="num">{thousands(r.credits)} <span class="sub">" " {r.mode.clone()} {source}</span></td>
            <td class="num extra">{thousands(r.approved_extra)}</td>
            <td class="num">{thousands(r.used)}</td>
            <td class="num">{thousands(r.left)}</td>
            {admin.then(|| view! {
                <td>{removable.then(|| view! {
                    <form action=ChangeLimits::url() method="post" data-limits>
                        <input type="hidden" name="op" value="remove"/>
                        <input type="hidden" name="scope" value=r.scope.clone()/>
                        <input type="hidden" name="id" value=r.id.clone()/>
                        <button type="submit" class="secondary compact" aria-label=format!("Remove the limit of {}", r.name)>"Remove"</button>
                        {message_slot()}
                    </form>
                })}</td>
            })}
        </tr>
    }
}

#[component]
fn AdminForms(l: LimitsInfo) -> impl IntoView {
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
                {pending.into_iter().map(|r| view! { <Pending r/> }).collect_view()}
            </ul>
        })}
        <form action=ChangeLimits::url() method="post" class="limit-form" data-limits data-testid="set-limit">
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
                <button type="submit">"Set limit"</button>
            </fieldset>
            {message_slot()}
        </form>
        <form action=ChangeLimits::url() method="post" class="limit-form" data-limits data-testid="limit-settings">
            <input type="hidden" name="op" value="settings"/>
            <fieldset>
                <legend>"Default for users, and overage"</legend>
                <label>"Default limit (empty: none)" <input type="number" name="credits" min="0" step="1" inputmode="numeric" value=default_credits/></label>
                <ModeSelect soft=default_soft/>
                <label>"Overage past the plan" <input type="number" name="overage" min="0" step="1" inputmode="numeric" value=l.overage.to_string()/></label>
                <button type="submit">"Save"</button>
            </fieldset>
            {message_slot()}
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
fn Pending(r: LimitRequestItem) -> impl IntoView {
    let reason = if r.reason.is_empty() {
        String::new()
    } else {
        format!(": “{}”", r.reason)
    };
    view! {
        <li data-request-id=r.id.clone()>
            <p><strong>{r.user_name.clone()}</strong> " asks for " {thousands(r.credits)} " more credits" {reason}
                <span class="muted">" · " {r.created_local.clone()}</span></p>
            <form action=ChangeLimits::url() method="post" class="decision" data-limits>
                <input type="hidden" name="id" value=r.id.clone()/>
                <label>"Credits" <input type="number" name="credits" min="1" step="1" inputmode="numeric" value=r.credits.to_string()/></label>
                <label>"Note" <input type="text" name="note" maxlength="1000"/></label>
                <label>"Decision"
                    <select name="op">
                        <option value="approve">"Approve"</option>
                        <option value="deny">"Deny"</option>
                    </select>
                </label>
                <button type="submit">"Decide"</button>
                {message_slot()}
            </form>
        </li>
    }
}

/// Audit entries, and the button that loads the older ones.
#[component]
fn AuditEntries(page: AuditPage) -> impl IntoView {
    view! {
        <ol class="audit-list">
            {page.entries.into_iter().map(|e: AuditItem| view! {
                <li data-audit-id=e.id.clone()>
                    <span class="what">{e.what.clone()}</span>
                    <span class="muted">{e.actor.clone()} " · " {e.at_local.clone()}</span>
                </li>
            }).collect_view()}
        </ol>
        {page.more.map(|after| view! {
            <button type="button" class="secondary" data-testid="audit-older" data-audit-older=after>"Show older"</button>
        })}
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

    /// Every form of the section is one the browser's listener posts, and
    /// each has a slot for its outcome: the contract between this HTML and
    /// `browser::listen`.
    #[test]
    fn every_form_is_posted_by_the_listener() {
        let info = LimitsInfo {
            mine: Some(row(10, 20)),
            can_edit: true,
            rows: vec![row(10, 20)],
            targets: vec![("user".into(), "u".into(), "Samara".into())],
            pending: vec![LimitRequestItem {
                id: "lr_1".into(),
                user_id: "u".into(),
                user_name: "Samara".into(),
                credits: 5,
                reason: "Q4".into(),
                status: "pending".into(),
                created_local: "now".into(),
                decision: None,
            }],
            audit: vec![AuditItem {
                id: "au_1".into(),
                at_local: "now".into(),
                actor: "the platform".into(),
                what: "Set".into(),
            }],
            audit_more: Some("au_1".into()),
            ..LimitsInfo::default()
        };
        for html in [section_html(&info), meter_html(&info)] {
            let forms = html.matches("<form").count();
            assert!(forms > 0, "{html}");
            assert_eq!(html.matches("data-limits").count(), forms, "{html}");
            assert_eq!(html.matches("data-form-message").count(), forms, "{html}");
            assert_eq!(html.matches(r#"name="op""#).count(), forms, "{html}");
        }
        assert!(section_html(&info).contains(r#"data-audit-older="au_1""#));
        assert_eq!(meter_html(&LimitsInfo::default()), "");
        for html in [section_html(&info), meter_html(&info)] {
            assert_eq!(crate::ui::markup::check(&html), Vec::<String>::new());
        }
    }
}
