//! Server-only: the HTML the server renders for the chart tabs' bodies and
//! for the limits, and the components it is made of.
//!
//! Nothing here runs in the browser: this module is compiled with the
//! `ssr` feature only, and its HTML reaches the page as text (`inner_html`),
//! without the handlers a hydrated component would carry. An `on:click`
//! written here would compile and never fire, so `scripts/structure`
//! refuses one. What the HTML does in the browser is said by the marks of
//! [`crate::ui::markup`], which the listeners of `ui/browser/` read, and
//! the render tests of `contract.rs` check every body against them.

pub mod chart;
pub mod conversations;
pub mod credits;
pub mod filters;
pub mod limits;
pub mod period;
pub mod table;

#[cfg(test)]
mod contract;

use leptos::prelude::*;

use super::nav::Base;

/// Renders a body to HTML under `base` (the links' prefix), in an owner of
/// its own: it reads no signal and waits for nothing.
pub fn render<V: IntoView + 'static>(base: Base, body: impl FnOnce() -> V) -> String {
    let owner = Owner::new();
    owner.with(|| {
        provide_context(base);
        body().into_view().to_html()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::nav::{tab_path, Tab};

    #[test]
    fn a_body_renders_under_its_base() {
        let html = render(Base::Embedded, || {
            view! { <a href=tab_path(Tab::Credits)>"Credits"</a> }
        });
        assert!(html.contains(r#"href="/embed/usage/credits""#), "{html}");
    }
}
