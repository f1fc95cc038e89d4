#![recursion_limit = "512"]
//! The hydrate entry point: nothing else lives here.

use wasm_bindgen::prelude::wasm_bindgen;

/// Hydrates the server-rendered page; Leptos's hydration script calls it.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Lets tests (and the embed protocol) know the page is interactive.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
