//! Credits — View Usage: the shared UI (components, routes, server
//! functions) and the domain both the server and the browser use.

#![recursion_limit = "256"]

pub mod domain;
pub mod format;
pub mod model;
pub mod query;
pub mod rpc;
pub mod ui;

pub use ui::shell::{shell, App, ShellOptions};

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
/// The browser entry point: hydrates the server-rendered page.
pub fn hydrate() {
    leptos::mount::hydrate_body(App);
}
