//! The hydrate entry point: nothing else lives here.

#[wasm_bindgen::prelude::wasm_bindgen(start)]
/// Hydrates the server-rendered page.
pub fn main() {
    console_error_panic_hook::set_once();
    app::hydrate();
}
