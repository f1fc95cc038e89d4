//! The header on every tab: Credits Left and Renews in N days.

use leptos::prelude::*;

use crate::format::{days, long_date, thousands};
use crate::model::Overview;

/// The overview resource the app provides.
pub type OverviewResource = super::data::TabData<Overview>;

/// Credits Left (of granted, with a bar) and Renews in N days (on the date).
#[component]
pub fn Header() -> impl IntoView {
    let overview = expect_context::<OverviewResource>();
    view! {
        <header class="summary" aria-label="Credits summary">
            <Suspense fallback=|| view! { <HeaderSkeleton/> }>
                {move || Suspend::new(async move {
                    match overview.await {
                        Ok(o) => view! { <HeaderFigures o/> }.into_any(),
                        Err(e) => view! {
                            <div class="summary-error" role="alert">{crate::ui::errors::plain_message(&e)}</div>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </header>
    }
}

#[component]
fn HeaderSkeleton() -> impl IntoView {
    view! {
        <div class="figure skeleton" aria-hidden="true"><span class="label">"Credits Left"</span><span class="big">" "</span></div>
        <div class="figure skeleton" aria-hidden="true"><span class="label">"Renews in"</span><span class="big">" "</span></div>
    }
}

#[component]
fn HeaderFigures(o: Overview) -> impl IntoView {
    let c = o.summary.credits;
    let pct = if c.granted > 0 {
        (c.left as f64 / c.granted as f64 * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    let low = c.granted > 0 && pct < 10.0;
    let cycle = o.summary.cycle.clone();
    view! {
        <div class="figure credits-left" data-testid="credits-left" data-left=c.left data-granted=c.granted>
            <span class="label">"Credits Left"</span>
            <span class="big">{thousands(c.left)}</span>
            <span class="of">"of " {thousands(c.granted)}</span>
            <div class="bar" class:low=low role="progressbar" aria-label="Credits left"
                aria-valuemin="0" aria-valuemax=c.granted aria-valuenow=c.left>
                <div class="fill" style=format!("width: {}%", crate::format::fixed(pct, 1))></div>
            </div>
            {(c.overage > 0).then(|| view! { <span class="overage">{thousands(c.overage)} " over plan"</span> })}
        </div>
        <div class="figure renews" data-testid="renews" data-days=cycle.days_until_renewal data-date=cycle.renews_on.to_string()>
            <span class="label">"Renews in"</span>
            <span class="big">{days(cycle.days_until_renewal)}</span>
            <span class="of">"on " <time datetime=cycle.renews_on.to_string()>{long_date(cycle.renews_on)}</time></span>
        </div>
        <p class="as-of">{o.workspace_name.clone()} " · as of " <time datetime=o.as_of.clone() title=o.summary.timezone.clone()>{o.as_of_local.clone()}</time></p>
    }
}
