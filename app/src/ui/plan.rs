//! The Plan tab: the plan, its credits, price and renewal, and a direct
//! line to the account manager (Change Plan, Buy More) that records every
//! request before anything else happens.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::errors::{form_message, LoadError};
use super::form::Submitted;
use super::header::OverviewResource;
use crate::format::{long_date, money_in, thousands};
use crate::model::{ContactLinks, Intent, Overview, SupportRequest};
use crate::rpc::SendSupportRequest;

/// `/usage/plan`.
#[component]
pub fn PlanTab() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    // The alert settings' action outlives the re-render its success causes,
    // so that "Saved" stays on screen.
    let save_alerts = ServerAction::<crate::rpc::SaveAlertSettings>::new();
    provide_context(save_alerts);
    Effect::new(move |_| {
        if let Some(Ok(())) = save_alerts.value().get() {
            overview.refetch();
        }
    });
    view! {
        <section class="tab plan" aria-labelledby="plan-title">
            <h1 id="plan-title">"Plan"</h1>
            <Suspense fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <PlanDetails o/> }.into_any(),
                        Err(e) => view! { <LoadError error=e retry=move |_| overview.refetch()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Whether the cycle is over its credits or has under 10% left.
pub fn running_low(o: &Overview) -> bool {
    let c = o.summary.credits;
    c.overage > 0 || (c.granted > 0 && c.left * 10 < c.granted)
}

/// The message a request starts with; the user edits it freely.
pub fn prefilled_message(o: &Overview, intent: Intent) -> String {
    let s = &o.summary;
    let hello = match &o.account_manager {
        Some(am) => format!(
            "Hi {},",
            am.name.split_whitespace().next().unwrap_or(&am.name)
        ),
        None => "Hi,".to_string(),
    };
    match intent {
        Intent::ChangePlan => format!(
            "{hello} we would like to change our plan (now {}, {} credits a month). Could we talk about the options?",
            s.plan.name,
            thousands(s.plan.monthly_credits)
        ),
        Intent::BuyMore => format!(
            "{hello} we would like to buy more credits: {} left of {}, renewing on {}. What can you offer?",
            thousands(s.credits.left),
            thousands(s.credits.granted),
            long_date(s.cycle.renews_on)
        ),
    }
}

#[component]
fn PlanDetails(o: Overview) -> impl IntoView {
    let s = o.summary.clone();
    let c = s.credits;
    let low = running_low(&o);
    let intents = if low {
        [Intent::BuyMore, Intent::ChangePlan]
    } else {
        [Intent::ChangePlan, Intent::BuyMore]
    };
    // The alert banner's Buy More lands here with `?ask=buy_more`.
    let asked =
        super::location::use_params().with_untracked(|q| q.get("ask").and_then(Intent::parse));
    let open = RwSignal::new(asked);
    let manager = o.account_manager.clone();
    let am_name = manager
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_else(|| "your account manager".to_string());
    let warning = low.then(|| {
        let text = if c.overage > 0 {
            format!("This cycle is {} credits over its balance. Buy more to keep working without interruption.", thousands(c.overage))
        } else {
            format!("Only {} credits left until {}. Buy more before you run out.", thousands(c.left), long_date(s.cycle.renews_on))
        };
        view! { <p class="card warning" role="status" data-testid="low-credits">{text}</p> }
    });
    let last = o.last_request.clone();
    view! {
        {warning}
        <dl class="card details" data-testid="plan-details">
            <div><dt>"Plan"</dt><dd data-testid="plan-name">{s.plan.name.clone()}</dd></div>
            <div><dt>"Identities"</dt><dd data-testid="identities">{s.plan.identities_included} " included · " {o.identities_registered} " registered"</dd></div>
            <div><dt>"Plan Credits"</dt><dd data-testid="plan-credits">{thousands(c.plan)}</dd></div>
            <div><dt>"Add-on Credits"</dt><dd data-testid="addon-credits">{thousands(c.add_on)}</dd></div>
            {(c.rollover > 0).then(|| view! {
                <div><dt>"Rollover Credits"</dt><dd data-testid="rollover-credits">{thousands(c.rollover)} <span class="sub">" · expire " {long_date(s.cycle.end)}</span></dd></div>
            })}
            <div><dt>"Price"</dt><dd data-testid="price">{money_in(s.plan.price.amount_cents, &s.plan.price.currency, o.locale.as_deref())} <span class="sub">" / month"</span></dd></div>
            <div><dt>"Top-up Date"</dt><dd data-testid="top-up"><time datetime=s.cycle.renews_on.to_string()>{long_date(s.cycle.renews_on)}</time></dd></div>
            <div class="wide"><dt>"Balance"</dt><dd data-testid="balance" data-granted=c.granted data-used=c.used data-left=c.left>
                {thousands(c.granted)} <span class="sub">" (plan + add-ons" {(c.rollover > 0).then_some(" + rollover")} ") · " {thousands(c.used)} " used · " {thousands(c.left)} " left"</span>
            </dd></div>
        </dl>
        <p class="policy">
            "Credits renew on the 1st of each month (next: " {long_date(s.cycle.renews_on)} "). Unused credits do not carry over, except rollover grants, which expire at the end of their cycle."
        </p>
        <div class="card actions">
            <h2>"Change your plan or buy credits"</h2>
            <p class="muted">"Both connect you with " {am_name.clone()} ", who will look at your case and offer a solution that fits."</p>
            <div class="buttons">
                {intents.into_iter().enumerate().map(|(i, intent)| { let secondary = i > 0; view! {
                    <button type="button" class:secondary=secondary data-intent=intent.key()
                        aria-expanded=move || (open.get() == Some(intent)).to_string()
                        on:click=move |_| open.set(Some(intent))>{intent.label()}</button> }
                }).collect_view()}
            </div>
            <RequestForm o=o.clone() open/>
            <LastRequest last am_name=am_name.clone() contact=o.contact.clone()/>
        </div>
        <super::alerts::AlertsCard o=o.clone()/>
        <super::limits::LimitsSection html=o.limits.section.clone()/>
        {manager.map(|m| view! {
            <div class="card manager" data-testid="account-manager">
                <h2>"Your account manager"</h2>
                <p class="name">{m.name.clone()}</p>
                <p><a href=format!("mailto:{}", m.email)>{m.email.clone()}</a></p>
                <p class="muted">"Write directly, or send a request here or with Change Plan and Buy More above: all reach " {m.name.clone()} "."</p>
                <div class="buttons">
                    <button type="button" class="secondary" data-am-intent="change_plan" on:click=move |_| open.set(Some(Intent::ChangePlan))>"Ask about your plan"</button>
                    <button type="button" class="secondary" data-am-intent="buy_more" on:click=move |_| open.set(Some(Intent::BuyMore))>"Ask for more credits"</button>
                </div>
            </div>
        })}
    }
}

/// The request form; posts as a plain form without JavaScript.
#[component]
fn RequestForm(o: Overview, open: RwSignal<Option<Intent>>) -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    let send = ServerAction::<SendSupportRequest>::new();
    // After a request is stored: refresh the figures, close the form, and
    // inside the platform ask the parent to open its chat.
    Effect::new(move |_| {
        if let Some(Ok(request)) = send.value().get() {
            open.set(None);
            overview.refetch();
            notify_platform(&request);
        }
    });
    let am = o
        .account_manager
        .as_ref()
        .map(|m| m.name.clone())
        .unwrap_or_else(|| "your account manager".into());
    // Keyboard users land in the message as soon as the form opens.
    let message_ref = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(el) = message_ref.get() {
            let _ = el.focus();
            // The caret goes after the prefilled text.
            let end = el.value().len() as u32;
            let _ = el.set_selection_range(end, end);
        }
    });
    view! {
        {move || open.get().map(|intent| {
            let message = prefilled_message(&o, intent);
            let am = am.clone();
            let on_submit = move |ev| {
                let form = Submitted::take(&ev);
                send.dispatch(SendSupportRequest {
                    intent: form.get("intent").unwrap_or_default(),
                    message: form.get("message").unwrap_or_default(),
                });
            };
            view! {
                <form action=SendSupportRequest::url() method="post" class="request-form" data-testid="request-form" on:submit=on_submit>
                    <input type="hidden" name="intent" value=intent.key()/>
                    <label for="request-message">{intent.label()} ": message to " {am}</label>
                    <textarea id="request-message" name="message" rows="4" maxlength="2000" required node_ref=message_ref>{message}</textarea>
                    <div class="buttons">
                        <button type="submit" disabled=move || send.pending().get()>
                            {move || if send.pending().get() { "Sending…" } else { "Send request" }}
                        </button>
                        <button type="button" class="secondary" on:click=move |_| open.set(None)>"Cancel"</button>
                    </div>
                    {move || send.value().get().and_then(|r| r.err()).map(|e| view! {
                        <p class="form-error" role="alert">{form_message(&e)}</p>
                    })}
                </form>
            }
        })}
    }
}

#[component]
fn LastRequest(
    last: Option<SupportRequest>,
    am_name: String,
    contact: ContactLinks,
) -> impl IntoView {
    last.map(|r| {
        let chat = contact.chat_url.clone();
        view! {
            <p class="sent" role="status" data-testid="request-sent" data-request-id=r.id.clone() data-intent=r.intent.key()>
                "✓ Request sent to " {am_name} " · " <time datetime=r.created_at.clone()>{r.created_local.clone()}</time>
                {chat.map(|url| view! { " · " <a href=url target="_blank" rel="noopener" class="chat-link">"Open the chat"</a> })}
            </p>
        }
    })
}

/// Inside the platform's iframe, asks the parent to open its chat
/// (`credits:open-chat`, posted only to the configured origins).
#[cfg(feature = "hydrate")]
fn notify_platform(request: &SupportRequest) {
    use wasm_bindgen::JsValue;
    crate::embed::post(
        "credits:open-chat",
        &[
            ("intent", JsValue::from_str(request.intent.key())),
            ("message", JsValue::from_str(&request.message)),
            ("request_id", JsValue::from_str(&request.id)),
        ],
    );
}

#[cfg(not(feature = "hydrate"))]
fn notify_platform(_request: &SupportRequest) {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ContactLinks, CreditsInfo, CycleInfo, Plan, Price, Summary};
    use chrono::NaiveDate;

    fn overview(plan: i64, used: i64) -> Overview {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let credits = crate::domain::ledger::CycleCredits {
            plan,
            add_on: 0,
            rollover: 0,
            used,
        };
        Overview {
            summary: Summary {
                workspace_id: "acme".into(),
                timezone: "Europe/Madrid".into(),
                today: d("2026-11-24"),
                cycle: CycleInfo {
                    start: d("2026-11-01"),
                    end: d("2026-12-01"),
                    renews_on: d("2026-12-01"),
                    days_until_renewal: 7,
                },
                plan: Plan {
                    name: "Growth".into(),
                    monthly_credits: plan,
                    identities_included: 5,
                    price: Price {
                        amount_cents: 29_900,
                        currency: "EUR".into(),
                    },
                },
                credits: CreditsInfo::from(credits),
            },
            workspace_name: "Acme".into(),
            week_start: "monday".into(),
            account_manager: Some(crate::model::AccountManager {
                name: "Laura Vidal".into(),
                email: "l@x.test".into(),
            }),
            identities_registered: 3,
            as_of: "2026-11-24T10:00:00Z".into(),
            as_of_local: "24 Nov 2026, 11:00 CET".into(),
            last_request: None,
            contact: ContactLinks::default(),
            locale: None,
            alerts: Default::default(),
            limits: Default::default(),
        }
    }

    #[test]
    fn low_means_overage_or_under_a_tenth() {
        assert!(!running_low(&overview(10_000, 8_999)));
        assert!(running_low(&overview(10_000, 9_001)));
        assert!(running_low(&overview(10_000, 12_000)));
        assert!(!running_low(&overview(0, 0)));
    }

    #[test]
    fn messages_start_prefilled() {
        let o = overview(10_000, 2_000);
        assert!(prefilled_message(&o, Intent::ChangePlan)
            .starts_with("Hi Laura, we would like to change our plan (now Growth, 10,000"));
        assert!(prefilled_message(&o, Intent::BuyMore)
            .contains("8,000 left of 10,000, renewing on 1 Dec 2026"));
    }
}
