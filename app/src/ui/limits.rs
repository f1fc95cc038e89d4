//! Limits in the app (PRODUCT.md, "Limits"): every member's own meter
//! under the header with **Request more**, and the Plan tab's Limits
//! section (admins set, change and remove limits and decide requests
//! there; members see their own row) with the audit log for admins.
//!
//! Rendered by the server as HTML (`ui/server/limits.rs`), carried in the
//! overview and put in place with `inner_html`, like the chart tabs'
//! bodies (`ui/body.rs`): the browser's bundle carries none of their views
//! or models. In the browser (`ui/browser/limits.rs`) one listener on the
//! document posts every limits form to the one server function, which
//! checks the viewer's role on the server, and reloads the overview;
//! another loads older audit entries as HTML.

use leptos::prelude::*;

use super::header::OverviewResource;

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
    super::browser::limits::listen(overview);
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
