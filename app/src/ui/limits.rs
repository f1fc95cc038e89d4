//! Limits in the app (PRODUCT.md, "Limits"): every member's own meter
//! under the header with **Request more**, and the Plan tab's Limits
//! section (admins set, change and remove limits and decide requests
//! there; members see their own row) with the audit log for admins.
//!
//! Rendered by the server as HTML ([`meter_html`], [`section_html`]),
//! carried in the overview and put in place with `inner_html`, like the
//! chart tabs' bodies (`ui/body.rs`): the browser's bundle carries none of
//! their views or models. In the browser one listener on the document
//! posts every limits form (`form[data-limits]`) to the one server
//! function, which checks the viewer's role on the server, and reloads the
//! overview; another loads older audit entries as HTML.

use leptos::prelude::*;

use super::header::OverviewResource;
#[cfg(feature = "ssr")]
use crate::format::{fixed, thousands};
#[cfg(feature = "ssr")]
use crate::model::{AuditItem, AuditPage, LimitRequestItem, LimitRow, LimitsInfo};
#[cfg(feature = "ssr")]
use crate::rpc::ChangeLimits;
#[cfg(feature = "ssr")]
use leptos::server_fn::ServerFn;

/// The limit's mode in plain words.
pub fn mode_words(mode: &str) -> &'static str {
    if mode == "hard" {
        "Charges stop at your limit."
    } else {
        "Your admins are told when you pass it."
    }
}

/// Under the header on every tab: the viewer's own meter, when a limit
/// applies to them (HTML from the server); in the browser, the limits
/// forms' listener.
#[component]
pub fn LimitMeter() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    #[cfg(feature = "hydrate")]
    browser::listen(overview);
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                overview.await.ok().and_then(|o| {
                    let html = o.limits.meter;
                    (!html.is_empty()).then(|| view! { <div class="limits-slot" inner_html=html></div> })
                })
            })}
        </Suspense>
    }
}

/// The Plan tab's Limits section (HTML from the server).
#[component]
pub fn LimitsSection(html: String) -> impl IntoView {
    view! { <div class="limits-slot" inner_html=html></div> }
}

#[cfg(feature = "ssr")]
pub use server::*;

#[cfg(feature = "ssr")]
mod server {
    use super::*;

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

    pub(super) fn bar_width(r: &LimitRow) -> String {
        format!("width: {}%", fixed(r.closeness() as f64 / 10.0, 1))
    }

    fn html<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
        super::super::body::render(super::super::nav::Base::STANDALONE, view)
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
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::cell::Cell;

    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;

    use super::OverviewResource;
    use crate::rpc::{change_limits, get_audit_page};
    use leptos::prelude::document;

    thread_local! {
        static LISTENING: Cell<bool> = const { Cell::new(false) };
    }

    /// Adds the limits forms' listeners to the document, once for the page.
    pub fn listen(overview: OverviewResource) {
        if LISTENING.with(|l| l.replace(true)) {
            return;
        }
        let submit = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let Some(form) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlFormElement>().ok())
                .filter(|f| f.has_attribute("data-limits"))
            else {
                return;
            };
            ev.prevent_default();
            leptos::task::spawn_local(async move {
                let Ok(data) = web_sys::FormData::new_with_form(&form) else {
                    return;
                };
                let get = |name: &str| data.get(name).as_string();
                let done = change_limits(
                    get("op").unwrap_or_default(),
                    get("scope"),
                    get("id"),
                    get("credits"),
                    get("mode"),
                    get("note"),
                    get("overage"),
                )
                .await;
                let message = match &done {
                    Ok(()) => "✓ Saved.".to_string(),
                    Err(e) => super::super::errors::form_message(e),
                };
                if let Ok(Some(slot)) = form.query_selector("[data-form-message]") {
                    slot.set_text_content(Some(&message));
                    let _ =
                        slot.set_attribute("role", if done.is_ok() { "status" } else { "alert" });
                }
                if done.is_ok() {
                    overview.refetch();
                }
            });
        });
        let click = Closure::<dyn Fn(web_sys::MouseEvent)>::new(|ev: web_sys::MouseEvent| {
            let Some(button) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
                .and_then(|el| el.closest("button[data-audit-older]").ok().flatten())
            else {
                return;
            };
            let after = button.get_attribute("data-audit-older").unwrap_or_default();
            let _ = button.set_attribute("disabled", "");
            leptos::task::spawn_local(async move {
                match get_audit_page(after).await {
                    Ok(html) => {
                        let _ = button.insert_adjacent_html("afterend", &html);
                        button.remove();
                    }
                    Err(_) => {
                        let _ = button.remove_attribute("disabled");
                    }
                }
            });
        });
        let doc = document();
        let _ = doc.add_event_listener_with_callback("submit", submit.as_ref().unchecked_ref());
        let _ = doc.add_event_listener_with_callback("click", click.as_ref().unchecked_ref());
        submit.forget();
        click.forget();
    }
}

#[cfg(all(test, feature = "ssr"))]
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
        assert_eq!(server::bar_width(&row(1_840, 2_000)), "width: 92.0%");
        assert_eq!(server::bar_width(&row(3_000, 2_000)), "width: 100.0%");
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
    }
}
