//! The Plan tab: the plan, its credits, price and renewal.

use leptos::prelude::*;
use leptos_meta::Title;

use super::header::OverviewResource;
use super::shell::LoadError;
use crate::format::{long_date, money, thousands};
use crate::model::Overview;

/// `/usage/plan`.
#[component]
pub fn PlanTab() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    view! {
        <Title text="Plan — Credits"/>
        <section class="tab plan" aria-labelledby="plan-title">
            <h1 id="plan-title">"Plan"</h1>
            <Suspense fallback=|| view! { <div class="card skeleton tall" aria-hidden="true"></div> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <PlanDetails o/> }.into_any(),
                        Err(e) => view! { <LoadError message=e.to_string() retry=move |_| overview.refetch()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn PlanDetails(o: Overview) -> impl IntoView {
    let s = o.summary;
    let c = s.credits;
    view! {
        <dl class="card details" data-testid="plan-details">
            <div><dt>"Plan"</dt><dd data-testid="plan-name">{s.plan.name.clone()}</dd></div>
            <div><dt>"Identities"</dt><dd>{s.plan.identities_included} " included · " {o.identities_registered} " registered"</dd></div>
            <div><dt>"Plan Credits"</dt><dd data-testid="plan-credits">{thousands(c.plan)}</dd></div>
            <div><dt>"Add-on Credits"</dt><dd data-testid="addon-credits">{thousands(c.add_on)}</dd></div>
            {(c.rollover > 0).then(|| view! {
                <div><dt>"Rollover Credits"</dt><dd>{thousands(c.rollover)} " · expire " {long_date(s.cycle.end)}</dd></div>
            })}
            <div><dt>"Price"</dt><dd>{money(s.plan.price.amount_cents, &s.plan.price.currency)} " / month"</dd></div>
            <div><dt>"Top-up Date"</dt><dd><time datetime=s.cycle.renews_on.to_string()>{long_date(s.cycle.renews_on)}</time></dd></div>
            <div><dt>"Balance"</dt><dd data-testid="balance">{thousands(c.granted)} " · " {thousands(c.used)} " used · " {thousands(c.left)} " left"</dd></div>
        </dl>
        <p class="policy">"Credits renew on the 1st of each month. Unused credits do not carry over, except rollover grants, which expire at the end of their cycle."</p>
    }
}
