//! The limits' browser half: one listener on the document posts every
//! limits form the server rendered (`ui/server/limits.rs`) to the limits
//! server function and reloads the overview; another loads older audit
//! entries as HTML.

use std::cell::Cell;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::rpc::{change_limits, get_audit_page};
use crate::ui::header::OverviewResource;
use crate::ui::markup::{Behaviour, FORM_MESSAGE};
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
            .filter(|f| f.has_attribute(Behaviour::LimitsForm.attr()))
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
                Err(e) => crate::ui::errors::form_message(e),
            };
            if let Ok(Some(slot)) = form.query_selector(&format!("[{FORM_MESSAGE}]")) {
                slot.set_text_content(Some(&message));
                let _ = slot.set_attribute("role", if done.is_ok() { "status" } else { "alert" });
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
            .and_then(|el| el.closest(Behaviour::AuditOlder.selector()).ok().flatten())
        else {
            return;
        };
        let after = button
            .get_attribute(Behaviour::AuditOlder.attr())
            .unwrap_or_default();
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
